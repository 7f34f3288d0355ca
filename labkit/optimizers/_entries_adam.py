"""Specs of Adam and the optimizers built on its moment estimates.

Adam, Adamax and Nadam were in Keras 2.0. Source of the Keras 2.0 defaults
and formulas: Keras 2's `keras/optimizers.py`. AdamW and LAMB were not, so
their `keras2017` defaults repeat the Keras 3 defaults.
"""

import keras

from labkit.optimizers import _params as p
from labkit.optimizers._params import KERAS2_LR_DECAY_NOTE
from labkit.optimizers._params import same_for_both_presets
from labkit.optimizers._spec import OptimizerSpec

_ADAM_RULE = """\
m_t = β1·m_{t-1} + (1 - β1)·g_t
v_t = β2·v_{t-1} + (1 - β2)·g_t²
v_t = max(v_{t-1}, v_t)             (amsgrad=True: the running maximum)
θ_t = θ_{t-1} - η·sqrt(1 - β2^t)/(1 - β1^t) · m_t / (sqrt(v_t) + ε)"""

_ADAM_SYMBOLS = {
    **p.COMMON_SYMBOLS,
    "β1": "`beta_1`",
    "β2": "`beta_2`",
    "ε": "`epsilon`, added after the bias correction, so it acts as "
    "ε/sqrt(1 - β2^t) would in Kingma and Ba's Algorithm 1",
    "m_t": "running mean of g (m_0 = 0)",
    "v_t": "running mean of g² (v_0 = 0)",
}


def _adam_params():
    return {
        "learning_rate": p.learning_rate(),
        "beta_1": p.decay_rate("beta_1", "decay rate of the mean of g"),
        "beta_2": p.decay_rate("beta_2", "decay rate of the mean of g²"),
        "epsilon": p.epsilon(),
        "amsgrad": p.amsgrad(),
    }


ADAM = OptimizerSpec(
    name="adam",
    summary="Adam: momentum divided by a running RMS, with bias correction.",
    update_rule=_ADAM_RULE,
    symbols=_ADAM_SYMBOLS,
    weakness="Adam can fail to converge even on simple convex problems, "
    "because v_t may shrink and enlarge steps late in training (Reddi et "
    "al., 2018, whose fix is amsgrad=True). An L2 penalty in the loss is "
    "divided by sqrt(v_t) like the gradient, so it regularises large-gradient "
    "weights less. Use `adamw` for decoupled decay.",
    reference="Kingma and Ba, \"Adam: A Method for Stochastic "
    "Optimization\", ICLR 2015.",
    keras2017_note="Same formula as Keras 3. Keras 2.0's ε was 1e-8 and it "
    "had no `amsgrad` argument, matching amsgrad=False. "
    + KERAS2_LR_DECAY_NOTE,
    optimizer_class=keras.optimizers.Adam,
    hyperparameters=_adam_params(),
    defaults={
        "keras3": {
            "learning_rate": 0.001,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-7,
            "amsgrad": False,
        },
        "keras2017": {
            "learning_rate": 0.001,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-8,
            "amsgrad": False,
        },
    },
    in_keras2017=True,
)

ADAMAX = OptimizerSpec(
    name="adamax",
    summary="Adamax: Adam with a decaying maximum of |g| in place of the RMS.",
    update_rule="""\
m_t = β1·m_{t-1} + (1 - β1)·g_t
u_t = max(β2·u_{t-1}, |g_t|)
θ_t = θ_{t-1} - η/(1 - β1^t) · m_t / (u_t + ε)""",
    symbols={
        **p.COMMON_SYMBOLS,
        "β1": "`beta_1`",
        "β2": "`beta_2`",
        "ε": "`epsilon`",
        "m_t": "running mean of g (m_0 = 0)",
        "u_t": "decaying maximum of |g| (u_0 = 0)",
    },
    weakness="u_t follows the largest recent |g| and forgets it only by the "
    "factor β2 per step (about 700 steps to halve with β2 = 0.999), so one "
    "outlier gradient shrinks that weight's steps for hundreds of steps.",
    reference="Kingma and Ba, \"Adam: A Method for Stochastic "
    "Optimization\", ICLR 2015, section 7.1.",
    keras2017_note="Same formula as Keras 3. Keras 2.0's defaults were "
    "η = 0.002 and ε = 1e-8. " + KERAS2_LR_DECAY_NOTE,
    optimizer_class=keras.optimizers.Adamax,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "beta_1": p.decay_rate("beta_1", "decay rate of the mean of g"),
        "beta_2": p.decay_rate("beta_2", "decay rate of the maximum of |g|"),
        "epsilon": p.epsilon(),
    },
    defaults={
        "keras3": {
            "learning_rate": 0.001,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-7,
        },
        "keras2017": {
            "learning_rate": 0.002,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-8,
        },
    },
    in_keras2017=True,
)

NADAM = OptimizerSpec(
    name="nadam",
    summary="Nadam: Adam with Nesterov momentum and a momentum warm-up.",
    update_rule="""\
μ_t = β1·(1 - 0.5·0.96^t)             (momentum warm-up schedule)
P_t = μ_1·μ_2·…·μ_t
m_t = β1·m_{t-1} + (1 - β1)·g_t
v_t = β2·v_{t-1} + (1 - β2)·g_t²
m̂_t = μ_{t+1}·m_t/(1 - P_t·μ_{t+1}) + (1 - μ_t)·g_t/(1 - P_t)
v̂_t = v_t/(1 - β2^t)
θ_t = θ_{t-1} - η·m̂_t / (sqrt(v̂_t) + ε)""",
    symbols={
        **p.COMMON_SYMBOLS,
        "β1": "`beta_1`",
        "β2": "`beta_2`",
        "ε": "`epsilon`",
        "μ_t": "the momentum at step t, rising from 0.52·β1 towards β1",
        "P_t": "product of all momenta so far, for bias correction",
        "m_t": "running mean of g (m_0 = 0)",
        "v_t": "running mean of g² (v_0 = 0)",
    },
    weakness="It shares Adam's weaknesses, and the warm-up schedule is "
    "fixed: the constants 0.5 and 0.96 cannot be set in Keras 3.",
    reference="Dozat, \"Incorporating Nesterov Momentum into Adam\", ICLR "
    "2016 workshop.",
    keras2017_note="Keras 2.0 used μ_t = β1·(1 - 0.5·0.96^(0.004·t)), with "
    "the 0.004 set by its `schedule_decay` argument, which Keras 3 lacks. "
    "Keras 3's μ_t gets within 1% of β1 after about 96 steps, Keras 2.0's "
    "took about 24,000. labkit's `keras2017` preset uses Keras 3's "
    "schedule with Keras 2.0's defaults η = 0.002 and ε = 1e-8.",
    optimizer_class=keras.optimizers.Nadam,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "beta_1": p.decay_rate("beta_1", "decay rate of the mean of g"),
        "beta_2": p.decay_rate("beta_2", "decay rate of the mean of g²"),
        "epsilon": p.epsilon(),
    },
    defaults={
        "keras3": {
            "learning_rate": 0.001,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-7,
        },
        "keras2017": {
            "learning_rate": 0.002,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-8,
        },
    },
    in_keras2017=True,
)


def _adamw_params():
    # AdamW's constructor takes weight_decay second, after learning_rate.
    params = _adam_params()
    learning_rate = params.pop("learning_rate")
    return {
        "learning_rate": learning_rate,
        "weight_decay": p.weight_decay(),
        **params,
    }


ADAMW = OptimizerSpec(
    name="adamw",
    summary="AdamW: Adam with weight decay decoupled from the gradient.",
    update_rule="""\
θ'  = θ_{t-1} - η·λ·θ_{t-1}           (decoupled weight decay)
m_t = β1·m_{t-1} + (1 - β1)·g_t
v_t = β2·v_{t-1} + (1 - β2)·g_t²
v_t = max(v_{t-1}, v_t)             (amsgrad=True: the running maximum)
θ_t = θ' - η·sqrt(1 - β2^t)/(1 - β1^t) · m_t / (sqrt(v_t) + ε)""",
    symbols={**_ADAM_SYMBOLS, **p.DECAY_SYMBOL},
    weakness="Keras multiplies the decay by the learning rate (η·λ·θ), as "
    "PyTorch does, where Loshchilov and Hutter scale it only by the "
    "schedule multiplier. A change of learning rate therefore also changes "
    "the decay, and λ must be tuned together with η.",
    reference="Loshchilov and Hutter, \"Decoupled Weight Decay "
    "Regularization\", ICLR 2019.",
    optimizer_class=keras.optimizers.AdamW,
    hyperparameters=_adamw_params(),
    defaults=same_for_both_presets(
        {
            "learning_rate": 0.001,
            "weight_decay": 0.004,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-7,
            "amsgrad": False,
        }
    ),
    in_keras2017=False,
)

LAMB = OptimizerSpec(
    name="lamb",
    summary="LAMB: Adam steps rescaled per tensor by a trust ratio.",
    update_rule="""\
θ'  = θ_{t-1} - η·λ·θ_{t-1}           (decoupled weight decay)
m_t = β1·m_{t-1} + (1 - β1)·g_t
v_t = β2·v_{t-1} + (1 - β2)·g_t²
r_t = (m_t/(1 - β1^t)) / (sqrt(v_t/(1 - β2^t)) + ε)
φ_t = ‖θ'‖ / ‖r_t‖                   (1 if either norm is 0)
θ_t = θ' - η·φ_t·r_t""",
    symbols={
        **p.COMMON_SYMBOLS,
        **p.DECAY_SYMBOL,
        "β1": "`beta_1`",
        "β2": "`beta_2`",
        "ε": "`epsilon`",
        "m_t, v_t": "running means of g and g² (both start at 0)",
        "‖x‖": "the L2 norm of the whole tensor",
        "φ_t": "the trust ratio, one number per variable",
    },
    weakness="LAMB was designed for very large batches. At ordinary batch "
    "sizes it adds two norms per variable per step for little gain over "
    "Adam. Keras 3.15 applies the weight decay before the step, outside the "
    "trust ratio, whereas You et al. add λ·θ to r_t before computing φ_t, "
    "so the same λ decays differently.",
    reference="You et al., \"Large Batch Optimization for Deep Learning: "
    "Training BERT in 76 minutes\", ICLR 2020.",
    optimizer_class=keras.optimizers.Lamb,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "beta_1": p.decay_rate("beta_1", "decay rate of the mean of g"),
        "beta_2": p.decay_rate("beta_2", "decay rate of the mean of g²"),
        "epsilon": p.epsilon(),
        "weight_decay": p.weight_decay(off_value=0.0),
    },
    defaults=same_for_both_presets(
        {
            "learning_rate": 0.001,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-7,
            "weight_decay": 0.0,
        }
    ),
    in_keras2017=False,
)

ENTRIES = (ADAM, ADAMW, ADAMAX, NADAM, LAMB)
