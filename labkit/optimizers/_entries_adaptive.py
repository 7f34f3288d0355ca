"""Specs of optimizers that scale each weight's step by its gradient history.

RMSprop, Adagrad and Adadelta were in Keras 2.0. Source of the Keras 2.0
defaults and formulas: Keras 2's `keras/optimizers.py`. Adafactor and FTRL
were not, so their `keras2017` defaults repeat the Keras 3 defaults.
"""

import keras

from labkit.optimizers import _params as p
from labkit.optimizers._adagrad2017 import Adagrad2017
from labkit.optimizers._params import KERAS2_LR_DECAY_NOTE
from labkit.optimizers._params import same_for_both_presets
from labkit.optimizers._spec import HyperParameter
from labkit.optimizers._spec import Interval
from labkit.optimizers._spec import OptimizerSpec

RMSPROP = OptimizerSpec(
    name="rmsprop",
    summary="RMSprop: divide each step by a running RMS of the gradient.",
    update_rule="""\
v_t = ρ·v_{t-1} + (1 - ρ)·g_t²
a_t = ρ·a_{t-1} + (1 - ρ)·g_t          (centered=True only)
D_t = sqrt(v_t + ε)                   (centered=False)
D_t = sqrt(v_t - a_t² + ε)            (centered=True)
s_t = μ·s_{t-1} + η·g_t / D_t         (s_t = η·g_t / D_t when μ = 0)
θ_t = θ_{t-1} - s_t""",
    symbols={
        **p.COMMON_SYMBOLS,
        "ρ": "`rho`",
        "ε": "`epsilon`",
        "μ": "`momentum`",
        "v_t": "running mean of g² (v_0 = 0)",
        "a_t": "running mean of g (a_0 = 0), used when `centered`",
        "s_t": "the step, with momentum a velocity (s_0 = 0)",
    },
    weakness="There is no bias correction: v_t starts at 0, so the first "
    "steps divide by sqrt((1 - ρ)·g²) and are about 3 times larger "
    "(1/sqrt(0.1) for ρ = 0.9) than later ones.",
    reference="Hinton, lecture 6e of the Coursera course Neural Networks "
    "for Machine Learning, 2012 (slides).",
    keras2017_note="Keras 2.0 divided by sqrt(v_t) + ε, with ε outside the "
    "square root. labkit's `keras2017` preset still uses Keras 3's "
    "sqrt(v_t + ε), which differs only where v_t is near ε (|g| of about "
    "1e-4 or less). Keras 2.0 had no `momentum` or `centered` arguments, "
    "matching momentum=0 and centered=False. " + KERAS2_LR_DECAY_NOTE,
    optimizer_class=keras.optimizers.RMSprop,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "rho": p.decay_rate("rho", "decay rate of the running mean of g²"),
        "momentum": p.momentum(),
        "epsilon": p.epsilon(),
        "centered": HyperParameter(
            "centered",
            "bool",
            "divide by the running standard deviation of g instead of its RMS",
        ),
    },
    defaults={
        "keras3": {
            "learning_rate": 0.001,
            "rho": 0.9,
            "momentum": 0.0,
            "epsilon": 1e-7,
            "centered": False,
        },
        "keras2017": {
            "learning_rate": 0.001,
            "rho": 0.9,
            "momentum": 0.0,
            "epsilon": 1e-8,
            "centered": False,
        },
    },
    in_keras2017=True,
)

_ADAGRAD_CLASSES = {
    "inside_sqrt": keras.optimizers.Adagrad,
    "outside_sqrt": Adagrad2017,
}

ADAGRAD = OptimizerSpec(
    name="adagrad",
    summary="Adagrad: divide each step by the root of all past g².",
    update_rule="""\
n_t = n_{t-1} + g_t²                  (n_0 = initial_accumulator_value)
θ_t = θ_{t-1} - η·g_t / sqrt(n_t + ε)       (epsilon_placement="inside_sqrt")
θ_t = θ_{t-1} - η·g_t / (sqrt(n_t) + ε)     (epsilon_placement="outside_sqrt")""",
    symbols={
        **p.COMMON_SYMBOLS,
        "ε": "`epsilon`",
        "n_t": "the accumulator, the sum of all squared gradients so far",
    },
    weakness="The accumulator only grows, so the effective step η/sqrt(n_t) "
    "shrinks at every step and training can stall long before a minimum. "
    "Where ε goes differs between frameworks, and the two forms differ "
    "most for tiny gradients: with n_0 = 0 and |g| = 1e-4, ε = 1e-8 inside "
    "the root makes the first step about 1.4 times smaller than outside.",
    reference="Duchi, Hazan and Singer, \"Adaptive Subgradient Methods for "
    "Online Learning and Stochastic Optimization\", JMLR 12, 2011.",
    keras2017_note="Keras 2.0 started the accumulators at 0 and divided by "
    "sqrt(n_t) + ε, as Duchi et al. do. Keras 3 starts them at 0.1 and "
    "divides by sqrt(n_t + ε). Keras 3 has no class for the Keras 2.0 form, "
    "so labkit provides `labkit.optimizers.Adagrad2017` and selects it with "
    "epsilon_placement=\"outside_sqrt\", the `keras2017` default. Either "
    "preset can use either form. " + KERAS2_LR_DECAY_NOTE,
    optimizer_class=keras.optimizers.Adagrad,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "initial_accumulator_value": p.non_negative(
            "initial_accumulator_value", "starting value n_0 of every accumulator"
        ),
        "epsilon": p.epsilon(),
        "epsilon_placement": HyperParameter(
            "epsilon_placement",
            "choice",
            "where ε is added: inside_sqrt is Keras 3's Adagrad, "
            "outside_sqrt is Keras 2.0's",
            choices=("inside_sqrt", "outside_sqrt"),
            keras_argument=False,
        ),
    },
    defaults={
        "keras3": {
            "learning_rate": 0.001,
            "initial_accumulator_value": 0.1,
            "epsilon": 1e-7,
            "epsilon_placement": "inside_sqrt",
        },
        "keras2017": {
            "learning_rate": 0.01,
            "initial_accumulator_value": 0.0,
            "epsilon": 1e-8,
            "epsilon_placement": "outside_sqrt",
        },
    },
    in_keras2017=True,
    select_class=lambda values: _ADAGRAD_CLASSES[values["epsilon_placement"]],
)

ADADELTA = OptimizerSpec(
    name="adadelta",
    summary="Adadelta: scale each step by the RMS of past steps over past "
    "gradients.",
    update_rule="""\
a_t = ρ·a_{t-1} + (1 - ρ)·g_t²
Δ_t = -sqrt(d_{t-1} + ε) / sqrt(a_t + ε) · g_t
d_t = ρ·d_{t-1} + (1 - ρ)·Δ_t²
θ_t = θ_{t-1} + η·Δ_t""",
    symbols={
        **p.COMMON_SYMBOLS,
        "ρ": "`rho`",
        "ε": "`epsilon`",
        "a_t": "running mean of g² (a_0 = 0)",
        "d_t": "running mean of the squared steps Δ² (d_0 = 0)",
        "Δ_t": "the step before scaling by η",
    },
    weakness="ε sets the size of the first steps, about "
    "sqrt(ε/(1 - ρ)) per element, so training starts slowly and a change "
    "of ε changes the speed. Zeiler's method has no learning rate (η = 1), "
    "and Keras 3's default η = 0.001 makes every step 1000 times smaller, and "
    "with it Adadelta barely moves.",
    reference="Zeiler, \"ADADELTA: An Adaptive Learning Rate Method\", "
    "arXiv:1212.5701, 2012.",
    keras2017_note="Same formula as Keras 3, but Keras 2.0's default "
    "learning rate was 1.0 and its ε 1e-8. " + KERAS2_LR_DECAY_NOTE,
    optimizer_class=keras.optimizers.Adadelta,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "rho": p.decay_rate("rho", "decay rate of the running means"),
        "epsilon": p.epsilon(),
    },
    defaults={
        "keras3": {"learning_rate": 0.001, "rho": 0.95, "epsilon": 1e-7},
        "keras2017": {"learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-8},
    },
    in_keras2017=True,
)

ADAFACTOR = OptimizerSpec(
    name="adafactor",
    summary="Adafactor: factored second moments and steps relative to the "
    "weights' size.",
    update_rule="""\
ρ_t  = min(η, 1/sqrt(t))
α_t  = max(ε2, RMS(θ_{t-1}))·ρ_t
β_t  = 1 - t^d
If θ has 2 or more axes (factored over the last two):
  R_t = β_t·R_{t-1} + (1 - β_t)·mean over columns of (g_t² + ε1)
  C_t = β_t·C_{t-1} + (1 - β_t)·mean over rows of (g_t² + ε1)
  v_t = outer(R_t, C_t) / mean(R_t)
Otherwise:
  v_t = β_t·v_{t-1} + (1 - β_t)·(g_t² + ε1)
u_t = g_t / sqrt(v_t)
θ_t = θ_{t-1} - α_t · u_t / max(1, RMS(u_t)/κ)""",
    symbols={
        **p.COMMON_SYMBOLS,
        "d": "`beta_2_decay`",
        "ε1": "`epsilon_1`",
        "ε2": "`epsilon_2`",
        "κ": "`clip_threshold`",
        "RMS(x)": "sqrt(mean(x²)) over the whole tensor",
        "R_t, C_t": "row and column means of g², which replace the full "
        "second-moment matrix (R_0 = C_0 = 0)",
        "v_t": "the second-moment estimate",
    },
    weakness="The step is relative to RMS(θ), so weights that start at 0, "
    "such as biases, move by only about ε2·η (1e-6 at the defaults) per "
    "step while they stay near 0. Keras 3.15's Adafactor keeps no first "
    "moment (no momentum). Its `relative_step` argument is not exposed "
    "because in Keras 3.15 it changes nothing: ρ_t is min(η, 1/sqrt(t)) "
    "either way.",
    reference="Shazeer and Stern, \"Adafactor: Adaptive Learning Rates with "
    "Sublinear Memory Cost\", ICML 2018.",
    optimizer_class=keras.optimizers.Adafactor,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "beta_2_decay": HyperParameter(
            "beta_2_decay",
            "float",
            "exponent d of the second-moment decay rate 1 - t^d",
            interval=Interval(None, 0, closed_high=False),
            slider_range=(-1.0, -0.1),
        ),
        "epsilon_1": p.epsilon(
            "epsilon_1",
            "small constant ε1 added to g² before averaging",
            slider_range=(1e-40, 1e-10),
        ),
        "epsilon_2": p.epsilon(
            "epsilon_2",
            "smallest weight RMS ε2 that the relative step uses",
            slider_range=(1e-6, 1e-1),
        ),
        "clip_threshold": HyperParameter(
            "clip_threshold",
            "float",
            "largest RMS κ of the normalised update before it is scaled down",
            interval=p.POSITIVE,
            scale="log",
            slider_range=(0.01, 100.0),
        ),
    },
    defaults=same_for_both_presets(
        {
            "learning_rate": 0.001,
            "beta_2_decay": -0.8,
            "epsilon_1": 1e-30,
            "epsilon_2": 1e-3,
            "clip_threshold": 1.0,
        }
    ),
    in_keras2017=False,
)

FTRL = OptimizerSpec(
    name="ftrl",
    summary="FTRL-Proximal: follow the regularised leader, with L1 and L2 "
    "penalties.",
    update_rule="""\
n_t = n_{t-1} + g_t²                  (n_0 = initial_accumulator_value)
σ_t = (n_t^(-p) - n_{t-1}^(-p)) / η
z_t = z_{t-1} + g_t + 2·λs·θ_{t-1} - σ_t·θ_{t-1}        (z_0 = 0)
θ_t = (clip(z_t, -λ1, λ1) - z_t) / (n_t^(-p)/η + 2·λ2 + β/η)""",
    symbols={
        **p.COMMON_SYMBOLS,
        "p": "`learning_rate_power` (-0.5 makes n^(-p) = sqrt(n))",
        "λ1": "`l1_regularization_strength`",
        "λ2": "`l2_regularization_strength`",
        "λs": "`l2_shrinkage_regularization_strength`",
        "β": "`beta`",
        "n_t": "sum of squared gradients",
        "z_t": "the accumulated linear term that θ is computed from",
    },
    weakness="FTRL was built for shallow models with large, sparse inputs, "
    "such as logistic regression on click logs. θ is recomputed from z_t "
    "at every step, and with λ1 > 0 a weight stays exactly 0 until |z_t| "
    "exceeds λ1. On deep networks it usually trains far more slowly than "
    "the Adam family.",
    reference="McMahan et al., \"Ad Click Prediction: a View from the "
    "Trenches\", KDD 2013.",
    optimizer_class=keras.optimizers.Ftrl,
    hyperparameters={
        "learning_rate": p.learning_rate(),
        "learning_rate_power": HyperParameter(
            "learning_rate_power",
            "float",
            "power p of the accumulator in the per-weight step size",
            interval=Interval(None, 0),
            slider_range=(-1.0, 0.0),
        ),
        "initial_accumulator_value": p.non_negative(
            "initial_accumulator_value", "starting value n_0 of every accumulator"
        ),
        "l1_regularization_strength": p.non_negative(
            "l1_regularization_strength", "L1 penalty λ1, where larger gives "
            "more exact zeros"
        ),
        "l2_regularization_strength": p.non_negative(
            "l2_regularization_strength", "L2 penalty λ2 in the proximal step"
        ),
        "l2_shrinkage_regularization_strength": p.non_negative(
            "l2_shrinkage_regularization_strength",
            "L2 penalty λs added to the gradient, like an L2 term in the loss",
        ),
        "beta": p.non_negative("beta", "β, added to the accumulator's root in "
                               "the denominator"),
    },
    defaults=same_for_both_presets(
        {
            "learning_rate": 0.001,
            "learning_rate_power": -0.5,
            "initial_accumulator_value": 0.1,
            "l1_regularization_strength": 0.0,
            "l2_regularization_strength": 0.0,
            "l2_shrinkage_regularization_strength": 0.0,
            "beta": 0.0,
        }
    ),
    in_keras2017=False,
)

ENTRIES = (RMSPROP, ADAGRAD, ADADELTA, ADAFACTOR, FTRL)
