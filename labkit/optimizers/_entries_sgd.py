"""Specs of plain SGD and its two momentum variants.

`sgd`, `momentum` and `nesterov` all build `keras.optimizers.SGD` and
differ only in their defaults. Keras 2.0 had all three. Source of the Keras
2.0 defaults and formulas: Keras 2's `keras/optimizers.py`.
"""

import keras

from labkit.optimizers import _params as p
from labkit.optimizers._params import KERAS2_LR_DECAY_NOTE
from labkit.optimizers._spec import OptimizerSpec

_SGD_PARAMS = {
    "learning_rate": p.learning_rate(),
    "momentum": p.momentum(),
    "nesterov": p.nesterov(),
}
_SGD_SYMBOLS = {
    **p.COMMON_SYMBOLS,
    "μ": "`momentum`",
    "v_t": "the velocity, a decaying sum of past steps (v_0 = 0)",
}
_MOMENTUM_RULE = """\
v_t = μ·v_{t-1} - η·g_t
θ_t = θ_{t-1} + v_t               (nesterov=False)
θ_t = θ_{t-1} + μ·v_t - η·g_t     (nesterov=True)"""
_SGD_NOTE = "Same formula as Keras 3. " + KERAS2_LR_DECAY_NOTE


def _sgd_entry(name, summary, weakness, reference, momentum, nesterov):
    update_rule = _MOMENTUM_RULE
    if momentum == 0.0:
        update_rule = (
            "θ_t = θ_{t-1} - η·g_t           (momentum = 0, the default)\n"
            "With momentum > 0, see the `momentum` and `nesterov` entries:\n"
            + _MOMENTUM_RULE
        )
    defaults = {
        "learning_rate": 0.01,
        "momentum": momentum,
        "nesterov": nesterov,
    }
    return OptimizerSpec(
        name=name,
        summary=summary,
        update_rule=update_rule,
        symbols=_SGD_SYMBOLS,
        weakness=weakness,
        reference=reference,
        keras2017_note=_SGD_NOTE,
        optimizer_class=keras.optimizers.SGD,
        hyperparameters=_SGD_PARAMS,
        defaults={"keras3": defaults, "keras2017": defaults},
        in_keras2017=True,
    )


SGD = _sgd_entry(
    "sgd",
    "Stochastic gradient descent: step against the gradient.",
    "One step size for every weight: a learning rate small enough for the "
    "steepest direction crawls along flat ones, so progress on "
    "ill-conditioned losses is slow, and a larger one diverges.",
    "Robbins and Monro, \"A Stochastic Approximation Method\", Annals of "
    "Mathematical Statistics 22, 1951.",
    momentum=0.0,
    nesterov=False,
)

MOMENTUM = _sgd_entry(
    "momentum",
    "SGD with heavy-ball (Polyak) momentum 0.9.",
    "The velocity overshoots and oscillates around a minimum. In steady "
    "state the step is η·g/(1 - μ), 10 times η·g for μ = 0.9, so a learning "
    "rate tuned for plain SGD often diverges.",
    "Polyak, \"Some methods of speeding up the convergence of iteration "
    "methods\", USSR Computational Mathematics and Mathematical Physics 4, "
    "1964.",
    momentum=0.9,
    nesterov=False,
)

NESTEROV = _sgd_entry(
    "nesterov",
    "SGD with Nesterov momentum 0.9.",
    "Like heavy-ball momentum, the step grows to about η·g/(1 - μ), so it "
    "needs a smaller learning rate than plain SGD. The look-ahead damps "
    "but does not remove oscillation.",
    "Nesterov, \"A method of solving a convex programming problem with "
    "convergence rate O(1/k^2)\", 1983; Keras uses the reformulation of "
    "Sutskever et al., \"On the importance of initialization and momentum "
    "in deep learning\", ICML 2013.",
    momentum=0.9,
    nesterov=True,
)

ENTRIES = (SGD, MOMENTUM, NESTEROV)
