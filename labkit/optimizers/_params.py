"""Hyper-parameters, symbols and notes that several optimizer entries share.

Every factory returns a new `HyperParameter`, so an entry can pass its own
help line where the generic one would mislead.
"""

from labkit.optimizers._spec import HyperParameter
from labkit.optimizers._spec import Interval

POSITIVE = Interval(0, None, closed_low=False)
NON_NEGATIVE = Interval(0, None)
UNIT_OPEN = Interval(0, 1, closed_high=False)

# Symbols that every update rule uses. Each entry adds its own.
COMMON_SYMBOLS = {
    "θ": "the variable being trained (one weight tensor). Every operation "
    "is element-wise unless the rule takes a norm or a mean",
    "g_t": "the gradient of the loss with respect to θ at step t",
    "t": "the step number, starting at 1 (`optimizer.iterations + 1`)",
    "η": "`learning_rate`",
}

DECAY_SYMBOL = {
    "λ": "`weight_decay`. Before each step Keras shrinks θ to "
    "θ·(1 - η·λ), decoupled from the gradient",
}


def learning_rate(help="step size that scales every update"):
    return HyperParameter(
        "learning_rate",
        "float",
        help,
        interval=POSITIVE,
        scale="log",
        slider_range=(1e-5, 10.0),
    )


def epsilon(
    name="epsilon",
    help="small constant that keeps the denominator away from 0",
    slider_range=(1e-10, 1e-1),
):
    return HyperParameter(
        name,
        "float",
        help,
        interval=POSITIVE,
        scale="log",
        slider_range=slider_range,
    )


def decay_rate(name, help, slider_range=(0.0, 0.9999)):
    """Return a moving-average decay rate in [0, 1), such as beta_1."""
    return HyperParameter(
        name, "float", help, interval=UNIT_OPEN, slider_range=slider_range
    )


def momentum(help="fraction of the previous velocity kept at each step"):
    return decay_rate("momentum", help, slider_range=(0.0, 0.99))


def nesterov(help="use Nesterov momentum: step from the look-ahead point"):
    return HyperParameter("nesterov", "bool", help)


def amsgrad(help="use AMSGrad: divide by the running maximum of v_t"):
    return HyperParameter("amsgrad", "bool", help)


def weight_decay(
    name="weight_decay",
    help="decoupled weight decay: shrink θ by η·λ·θ before each step",
    off_value=None,
):
    """Return a decoupled weight-decay rate in [0, inf).

    Pass `off_value=0.0` where the Keras default is `None`.
    """
    return HyperParameter(
        name,
        "float",
        help,
        interval=NON_NEGATIVE,
        slider_range=(0.0, 0.5),
        off_value=off_value,
    )


def non_negative(name, help, slider_range=(0.0, 1.0)):
    return HyperParameter(
        name, "float", help, interval=NON_NEGATIVE, slider_range=slider_range
    )


KERAS2_LR_DECAY_NOTE = (
    "Keras 2.0 also took `decay` (time-based learning-rate decay, 0 by "
    "default, so off), which Keras 3 removed."
)


def same_for_both_presets(defaults):
    """Return `defaults` for both presets, for optimizers Keras 2.0 lacked."""
    return {"keras3": defaults, "keras2017": defaults}
