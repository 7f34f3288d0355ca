"""Specs of Lion, Muon and Schedule-Free AdamW, published from 2023 on.

Keras 2.0 had none of them, so their `keras2017` defaults repeat the Keras
3 defaults, and the registry warns when they are requested under that
preset.
"""

import keras

from labkit.optimizers import _params as p
from labkit.optimizers._params import same_for_both_presets
from labkit.optimizers._spec import HyperParameter
from labkit.optimizers._spec import Interval
from labkit.optimizers._spec import OptimizerSpec

LION = OptimizerSpec(
    name="lion",
    summary="Lion: step by the sign of an interpolated momentum.",
    update_rule="""\
θ'  = θ_{t-1} - η·λ·θ_{t-1}           (decoupled weight decay)
c_t = β1·m_{t-1} + (1 - β1)·g_t
θ_t = θ' - η·sign(c_t)
m_t = β2·m_{t-1} + (1 - β2)·g_t""",
    symbols={
        **p.COMMON_SYMBOLS,
        **p.DECAY_SYMBOL,
        "β1": "`beta_1`, the weight of the momentum in the step",
        "β2": "`beta_2`, the decay rate of the momentum",
        "m_t": "the momentum (m_0 = 0)",
    },
    weakness="Every weight moves by exactly η per step (0 only where c_t is "
    "exactly 0), whatever the gradient's size, so updates are large. The "
    "Keras 3.15 docstring advises a learning rate 3-10 times smaller than "
    "AdamW's and a weight decay 3-10 times larger.",
    reference="Chen et al., \"Symbolic Discovery of Optimization "
    "Algorithms\", NeurIPS 2023.",
    optimizer_class=keras.optimizers.Lion,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "beta_1": HyperParameter(
            "beta_1",
            "float",
            "weight of the momentum against the gradient in the sign",
            interval=Interval(0, 1, closed_low=False),
            slider_range=(0.01, 1.0),
        ),
        "beta_2": p.decay_rate("beta_2", "decay rate of the momentum"),
        "weight_decay": p.weight_decay(off_value=0.0),
    },
    defaults=same_for_both_presets(
        {
            "learning_rate": 0.001,
            "beta_1": 0.9,
            "beta_2": 0.99,
            "weight_decay": 0.0,
        }
    ),
    in_keras2017=False,
)

MUON = OptimizerSpec(
    name="muon",
    summary="Muon: orthogonalised momentum for 2-D weights, Adam for the "
    "rest.",
    update_rule="""\
Every variable first decays: θ' = θ_{t-1} - η·λ·θ_{t-1}
  (λ = weight_decay for Muon variables, adam_weight_decay for the others)
2-D variables (Muon step):
  m_t = μ·m_{t-1} + g_t
  u_t = g_t + μ·m_t                   (nesterov=True; u_t = m_t otherwise)
  O_t = NewtonSchulz(u_t / ‖u_t‖_F, k)   (about U·Vᵀ of u_t's SVD)
  θ_t = θ' - η·r·sqrt(max(rows, cols))·O_t
Other variables (biases, embeddings, kernels of 3 or more axes):
  the `adam` step with η·a, β1, β2 and ε""",
    symbols={
        **p.COMMON_SYMBOLS,
        "λ": "`weight_decay` (Muon variables) or `adam_weight_decay` "
        "(Adam variables). Keras shrinks θ by η·λ·θ before the step",
        "μ": "`momentum`",
        "k": "`ns_steps`",
        "r": "`rms_rate`",
        "a": "`adam_lr_ratio`",
        "β1, β2": "`adam_beta_1`, `adam_beta_2`",
        "ε": "`epsilon`",
        "m_t": "the momentum (m_0 = 0)",
    },
    weakness="Only 2-D variables get the Muon step. Convolution kernels "
    "have 4 axes, so on a CNN most weights are trained by the Adam step. "
    "Keras recommends excluding the output layer with `exclude_layers`, "
    "which labkit does not expose, so an output Dense kernel gets the Muon "
    "step too. Each step runs k Newton-Schulz iterations of three matrix "
    "products.",
    reference="Jordan et al., Muon (2024 blog post and code); Liu et al., "
    "\"Muon is Scalable for LLM Training\", arXiv:2502.16982, 2025.",
    optimizer_class=keras.optimizers.Muon,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "adam_beta_1": p.decay_rate(
            "adam_beta_1", "decay rate of the mean of g in the Adam step"
        ),
        "adam_beta_2": p.decay_rate(
            "adam_beta_2", "decay rate of the mean of g² in the Adam step"
        ),
        "adam_weight_decay": p.weight_decay(
            "adam_weight_decay", "decoupled weight decay of the Adam variables"
        ),
        "epsilon": p.epsilon(help="ε of the Adam step"),
        "weight_decay": p.weight_decay(
            help="decoupled weight decay of the Muon (2-D) variables"
        ),
        "adam_lr_ratio": HyperParameter(
            "adam_lr_ratio",
            "float",
            "learning rate of the Adam step, as a multiple of learning_rate",
            interval=p.POSITIVE,
            scale="log",
            slider_range=(0.01, 10.0),
        ),
        "momentum": p.momentum("momentum μ of the Muon step"),
        "ns_steps": HyperParameter(
            "ns_steps",
            "int",
            "Newton-Schulz iterations that orthogonalise the Muon step",
            interval=Interval(1, None),
            unit="iterations",
            slider_range=(1, 10),
        ),
        "nesterov": p.nesterov("use Nesterov momentum in the Muon step"),
        "rms_rate": HyperParameter(
            "rms_rate",
            "float",
            "scale r of the Muon step, which is multiplied by "
            "sqrt(max(rows, cols))",
            interval=p.POSITIVE,
            scale="log",
            slider_range=(0.01, 1.0),
        ),
    },
    defaults=same_for_both_presets(
        {
            "learning_rate": 0.001,
            "adam_beta_1": 0.9,
            "adam_beta_2": 0.999,
            "adam_weight_decay": 0.004,
            "epsilon": 1e-7,
            "weight_decay": 0.004,
            "adam_lr_ratio": 1.0,
            "momentum": 0.95,
            "ns_steps": 5,
            "nesterov": True,
            "rms_rate": 0.2,
        }
    ),
    in_keras2017=False,
)

SCHEDULE_FREE_ADAMW = OptimizerSpec(
    name="schedulefreeadamw",
    summary="Schedule-Free AdamW: averaging in place of a learning-rate "
    "schedule.",
    update_rule="""\
θ'  = θ_{t-1} - η·λ·θ_{t-1}           (decoupled weight decay)
η_t = η·min(1, t/warmup_steps)        (η_t = η when warmup_steps = 0)
v_t = β2·v_{t-1} + (1 - β2)·g_t²
z_t = z_{t-1} - η_t·g_t / (sqrt(v_t/(1 - β2^t)) + ε)       (z_0 = θ_0)
x_t = (1 - 1/t)·x_{t-1} + (1/t)·z_t                        (x_0 = θ_0)
θ_t = (1 - β1)·z_t + β1·x_t""",
    symbols={
        **p.COMMON_SYMBOLS,
        **p.DECAY_SYMBOL,
        "β1": "`beta_1`, how close the weights θ stay to the average x",
        "β2": "`beta_2`",
        "ε": "`epsilon`",
        "warmup_steps": "`warmup_steps`",
        "z_t": "the base sequence that takes the gradient steps (Keras "
        "stores it as the `momentum` variable)",
        "x_t": "the running average of z. Keras recovers x_{t-1} from θ "
        "and z instead of storing it",
        "v_t": "running mean of g² (v_0 = 0)",
    },
    weakness="The method's guarantees are about the average x_t, and "
    "Defazio et al. evaluate the model at x_t. Keras 3.15 keeps the "
    "interpolation θ_t in the model and has no way to swap in x_t, so "
    "evaluation and validation metrics are measured at θ_t.",
    reference="Defazio et al., \"The Road Less Scheduled\", NeurIPS 2024.",
    optimizer_class=keras.optimizers.ScheduleFreeAdamW,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "beta_1": HyperParameter(
            "beta_1",
            "float",
            "interpolation weight of the average x in the weights",
            interval=Interval(0, 1, closed_low=False, closed_high=False),
            slider_range=(0.01, 0.999),
        ),
        "beta_2": p.decay_rate("beta_2", "decay rate of the mean of g²"),
        "epsilon": p.epsilon(),
        "warmup_steps": HyperParameter(
            "warmup_steps",
            "int",
            "steps over which the learning rate rises linearly from 0",
            interval=Interval(0, None),
            unit="steps",
            slider_range=(0, 10000),
        ),
        "weight_decay": p.weight_decay(off_value=0.0),
    },
    defaults=same_for_both_presets(
        {
            "learning_rate": 0.0025,
            "beta_1": 0.9,
            "beta_2": 0.999,
            "epsilon": 1e-8,
            "warmup_steps": 0,
            "weight_decay": 0.0,
        }
    ),
    in_keras2017=False,
)

ENTRIES = (LION, MUON, SCHEDULE_FREE_ADAMW)
