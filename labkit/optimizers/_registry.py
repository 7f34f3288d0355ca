"""The table of registered optimizers and the functions that look them up.

`get()` validates every override against the optimizer's spec before it
builds anything, and returns a new Keras optimizer on every call, because a
Keras 3 optimizer is bound to the variables it first trained.
"""

import logging
import warnings

from labkit.errors import ConfigError
from labkit.errors import UnknownNameError
from labkit.optimizers import _entries_adam
from labkit.optimizers import _entries_adaptive
from labkit.optimizers import _entries_recent
from labkit.optimizers import _entries_sgd
from labkit.optimizers._spec import format_close_match

logger = logging.getLogger(__name__)

PRESETS = ("keras3", "keras2017")

_SPECS = {
    entry.name: entry
    for entry in (
        _entries_sgd.ENTRIES
        + _entries_adaptive.ENTRIES
        + _entries_adam.ENTRIES
        + _entries_recent.ENTRIES
    )
}

KERAS2017_NAMES = tuple(
    name for name, entry in _SPECS.items() if entry.in_keras2017
)


def names():
    """Return every registered optimizer name, sorted."""
    return sorted(_SPECS)


def spec(name):
    """Return the `OptimizerSpec` registered as `name`, ignoring case.

    Raises:
        UnknownNameError: if no optimizer is registered as `name`. The
            message lists the registered names.
    """
    key = name.lower() if isinstance(name, str) else None
    if key not in _SPECS:
        hint = "" if key is None else format_close_match(key, names())
        raise UnknownNameError(
            f"Unknown optimizer {name!r}.{hint} "
            f"Known optimizers: {', '.join(names())}."
        )
    return _SPECS[key]


def _check_preset(preset):
    if preset not in PRESETS:
        raise ConfigError(
            f"Unknown preset {preset!r}. Known presets: {', '.join(PRESETS)}."
        )


def _resolve(name, preset, overrides):
    """Return the spec, the effective values and whether to warn."""
    entry = spec(name)
    _check_preset(preset)
    validated = entry.validate(overrides)
    values = dict(entry.defaults[preset])
    values.update(validated)
    warn = preset == "keras2017" and not entry.in_keras2017
    return entry, values, warn


def _fallback_message(name):
    return (
        f"Keras 2.0 had no {name!r} optimizer, so preset 'keras2017' uses "
        "its Keras 3 defaults. Keras 2.0 optimizers: "
        f"{', '.join(KERAS2017_NAMES)}."
    )


def resolve(name, preset="keras3", **overrides):
    """Return the effective hyper-parameters of an optimizer, validated.

    Args:
        name: Registered optimizer name, in any case.
        preset: `"keras3"` (the installed Keras defaults) or `"keras2017"`
            (the Keras 2.0 defaults of mid-2017).
        **overrides: Hyper-parameters that replace the preset's defaults.

    Returns:
        A new dict of every exposed hyper-parameter, in constructor order,
        with plain `float`, `int`, `bool` or `str` values that
        `json.dumps` accepts. Passing it back as `**overrides` gives the
        same optimizer.

    Raises:
        UnknownNameError: for an unregistered name.
        ConfigError: for an unknown preset.
        InvalidHyperParameterError: for an unknown hyper-parameter, a wrong
            type or a value outside its valid range.

    Warns:
        UserWarning: for `preset="keras2017"` and an optimizer that Keras
            2.0 did not have. The Keras 3 defaults are used instead.

    Example:

    >>> resolve("sgd", learning_rate=0.1)
    {'learning_rate': 0.1, 'momentum': 0.0, 'nesterov': False}
    """
    entry, values, warn = _resolve(name, preset, overrides)
    if warn:
        warnings.warn(_fallback_message(entry.name), stacklevel=2)
    return values


def get(name, preset="keras3", **overrides):
    """Build a new Keras optimizer from a registered name.

    Takes the same arguments, and raises and warns in the same cases, as
    `resolve()`. Every value is checked before the optimizer is built.

    Returns:
        A new `keras.optimizers.Optimizer` on every call.

    Example:

    >>> optimizer = get("adam", learning_rate=3e-4)
    >>> model.compile(optimizer=optimizer, loss="mse")
    """
    entry, values, warn = _resolve(name, preset, overrides)
    if warn:
        warnings.warn(_fallback_message(entry.name), stacklevel=2)
    optimizer = entry.build(values)
    logger.debug(
        "Built %s optimizer %s (preset %s) with %s",
        entry.name,
        type(optimizer).__name__,
        preset,
        values,
    )
    return optimizer
