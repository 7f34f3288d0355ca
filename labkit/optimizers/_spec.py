"""Declarative optimizer specs and the one validator that checks them.

An `OptimizerSpec` describes one registered optimizer: its update rule, its
known weakness, the Keras class that implements it, each exposed
hyper-parameter (type, valid interval, slider scale, unit, one-line help)
and the defaults of each preset. Validation, error messages, widgets, CLI
flags and `docs/optimizers.md` are all derived from these specs.
"""

import dataclasses
import difflib
import math
import numbers
import types
from collections.abc import Callable, Mapping

import numpy as np

from labkit.errors import InvalidHyperParameterError

KINDS = ("float", "int", "bool", "choice")
SCALES = ("linear", "log")


def _format_bound(value):
    """Format an interval end as the shortest readable number."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return f"{value:g}"


@dataclasses.dataclass(frozen=True)
class Interval:
    """A range of real numbers with open or closed ends.

    Args:
        low: Lower end, or `None` for no lower bound.
        high: Upper end, or `None` for no upper bound.
        closed_low: Whether `low` itself is in the interval.
        closed_high: Whether `high` itself is in the interval.

    An unbounded end is always open, and NaN and the infinities are never
    inside an interval, so `Interval(0, None)` is `[0, inf)`.
    """

    low: float | None
    high: float | None
    closed_low: bool = True
    closed_high: bool = True

    def __post_init__(self):
        if self.low is None:
            object.__setattr__(self, "closed_low", False)
        if self.high is None:
            object.__setattr__(self, "closed_high", False)
        if self.low is not None and self.high is not None:
            if self.low > self.high:
                raise ValueError(
                    f"Interval low must be <= high. Received: low={self.low}, "
                    f"high={self.high}"
                )

    def contains(self, value):
        """Return whether the real number `value` is inside the interval."""
        if not math.isfinite(value):
            return False
        if self.low is not None:
            if value < self.low or (value == self.low and not self.closed_low):
                return False
        if self.high is not None:
            if value > self.high or (
                value == self.high and not self.closed_high
            ):
                return False
        return True

    def __str__(self):
        low = "-inf" if self.low is None else _format_bound(self.low)
        high = "inf" if self.high is None else _format_bound(self.high)
        left = "[" if self.closed_low else "("
        right = "]" if self.closed_high else ")"
        return f"{left}{low}, {high}{right}"


@dataclasses.dataclass(frozen=True)
class HyperParameter:
    """One tunable argument of an optimizer.

    Args:
        name: Keyword argument name, as the Keras constructor spells it.
        kind: `"float"`, `"int"`, `"bool"` or `"choice"`.
        help: One line stating what the value sets, for help text.
        interval: Valid values of a `"float"` or `"int"`, `None` for the
            other kinds.
        scale: `"log"` when useful values span orders of magnitude (a log
            slider), otherwise `"linear"`.
        unit: Unit of the value, such as `"steps"`, or `""` if it has none.
        choices: Allowed strings of a `"choice"`.
        slider_range: `(min, max)` that a slider should span. Both ends are
            valid values, and so are values outside it but inside
            `interval`.
        off_value: For an argument whose Keras default is `None` (off), the
            number that means off. `get()` passes `None` to Keras for it,
            so that widgets and JSON records only ever see numbers.
        keras_argument: `False` for a labkit-only choice that selects the
            optimizer class instead of being passed to it.
    """

    name: str
    kind: str
    help: str
    interval: Interval | None = None
    scale: str = "linear"
    unit: str = ""
    choices: tuple[str, ...] = ()
    slider_range: tuple[float, float] | None = None
    off_value: float | None = None
    keras_argument: bool = True

    def __post_init__(self):
        if self.kind not in KINDS:
            raise ValueError(
                f"HyperParameter {self.name}: kind must be one of "
                f"{', '.join(KINDS)}. Received: kind={self.kind!r}"
            )
        if self.scale not in SCALES:
            raise ValueError(
                f"HyperParameter {self.name}: scale must be one of "
                f"{', '.join(SCALES)}. Received: scale={self.scale!r}"
            )
        is_number = self.kind in ("float", "int")
        if is_number and (self.interval is None or self.slider_range is None):
            raise ValueError(
                f"HyperParameter {self.name}: a {self.kind} needs an interval "
                "and a slider_range."
            )
        if self.kind == "choice" and not self.choices:
            raise ValueError(
                f"HyperParameter {self.name}: a choice needs choices."
            )
        if self.scale == "log" and not (
            is_number and self.slider_range[0] > 0
        ):
            raise ValueError(
                f"HyperParameter {self.name}: a log scale needs a number "
                "whose slider_range starts above 0."
            )


def describe_range(param):
    """Return the valid values of `param` in words.

    The same text appears in error messages and help text, for example
    `"a float in (0, inf)"`, `"an int in [1, inf)"`, `"a bool (True or
    False)"` or `"one of 'inside_sqrt', 'outside_sqrt'"`.
    """
    if param.kind == "float":
        return f"a float in {param.interval}"
    if param.kind == "int":
        return f"an int in {param.interval}"
    if param.kind == "bool":
        return "a bool (True or False)"
    return "one of " + ", ".join(repr(choice) for choice in param.choices)


def _is_bool(value):
    return isinstance(value, (bool, np.bool_))


def _coerce(param, value):
    """Return `value` as a plain Python value of `param.kind`, or None.

    An int is accepted for a float, but a bool is never accepted as a
    number.
    """
    if param.kind == "bool":
        return bool(value) if _is_bool(value) else None
    if param.kind == "choice":
        return value if isinstance(value, str) else None
    if _is_bool(value):
        return None
    if param.kind == "int":
        return int(value) if isinstance(value, numbers.Integral) else None
    if not isinstance(value, numbers.Real):
        return None
    try:
        return float(value)
    except OverflowError:  # an int too large for a float
        return None


def validate_value(optimizer_name, param, value):
    """Return `value` as a plain Python value, or raise if it is invalid.

    Raises:
        InvalidHyperParameterError: if `value` has the wrong type or lies
            outside `param`'s interval or choices. The message names the
            optimizer, the hyper-parameter, the valid values and the value
            received.
    """
    coerced = _coerce(param, value)
    if param.kind in ("float", "int"):
        valid = coerced is not None and param.interval.contains(coerced)
    elif param.kind == "choice":
        valid = coerced in param.choices
    else:
        valid = coerced is not None
    if not valid:
        raise InvalidHyperParameterError(
            f"{optimizer_name}: {param.name} must be {describe_range(param)}. "
            f"Received: {param.name}={value!r}"
        )
    return coerced


def format_close_match(name, known):
    """Return ' Did you mean X?' for a likely misspelling, else ''."""
    if name == "lr" and "learning_rate" in known:
        # Keras 2 called the learning rate `lr`, which Keras 3 rejects.
        return " Did you mean 'learning_rate'?"
    matches = difflib.get_close_matches(name, known, n=1)
    return f" Did you mean {matches[0]!r}?" if matches else ""


@dataclasses.dataclass(frozen=True)
class OptimizerSpec:
    """One registered optimizer: its rule, its parameters, its presets.

    Args:
        name: Registry name, lowercase.
        summary: One line for lists and menus.
        update_rule: The update applied at step `t`, in plain-text maths.
        symbols: Meaning of every symbol in `update_rule`, mapped to the
            argument that sets it where there is one.
        weakness: The known failure mode a user should expect.
        reference: Where the method was published.
        keras2017_note: How Keras 2.0 (2017) differed from the Keras 3
            implementation labkit builds. Empty when Keras 2.0 did not have
            the optimizer.
        optimizer_class: Keras optimizer class that `build()` instantiates.
        hyperparameters: Exposed hyper-parameters by name, in constructor
            order.
        defaults: Default value of every hyper-parameter, by preset.
        in_keras2017: Whether Keras 2.0 had this optimizer. When it did not,
            `defaults["keras2017"]` repeats the Keras 3 defaults and the
            registry warns.
        select_class: Optional function from the resolved values to the
            class to build, for a `keras_argument=False` choice.
    """

    name: str
    summary: str
    update_rule: str
    symbols: Mapping[str, str]
    weakness: str
    reference: str
    optimizer_class: type
    hyperparameters: Mapping[str, HyperParameter]
    defaults: Mapping[str, Mapping[str, object]]
    in_keras2017: bool
    keras2017_note: str = ""
    select_class: Callable[[Mapping[str, object]], type] | None = None

    def __post_init__(self):
        # Read-only views keep callers from editing the shared registry.
        object.__setattr__(self, "symbols", types.MappingProxyType(
            dict(self.symbols)
        ))
        object.__setattr__(
            self,
            "hyperparameters",
            types.MappingProxyType(dict(self.hyperparameters)),
        )
        object.__setattr__(
            self,
            "defaults",
            types.MappingProxyType(
                {
                    preset: types.MappingProxyType(dict(values))
                    for preset, values in self.defaults.items()
                }
            ),
        )
        for preset, values in self.defaults.items():
            if list(values) != list(self.hyperparameters):
                raise ValueError(
                    f"{self.name}: defaults[{preset!r}] must list every "
                    f"hyper-parameter in order. Received: {list(values)}"
                )
            for param_name, value in values.items():
                param = self.hyperparameters[param_name]
                validate_value(self.name, param, value)

    def validate(self, overrides):
        """Return `overrides` converted to plain values, or raise.

        Every name is checked before any value, so a misspelt name is
        reported even when another value is also invalid.

        Raises:
            InvalidHyperParameterError: for an unknown name, a wrong type or
                a value outside its valid range.
        """
        known = list(self.hyperparameters)
        for param_name in overrides:
            if param_name not in self.hyperparameters:
                hint = format_close_match(param_name, known)
                raise InvalidHyperParameterError(
                    f"{self.name}: unknown hyper-parameter {param_name!r}."
                    f"{hint} Known hyper-parameters: {', '.join(known)}."
                )
        return {
            param_name: validate_value(
                self.name, self.hyperparameters[param_name], value
            )
            for param_name, value in overrides.items()
        }

    def class_for(self, values):
        """Return the optimizer class that `values` select."""
        if self.select_class is None:
            return self.optimizer_class
        return self.select_class(values)

    def build(self, values):
        """Instantiate a new Keras optimizer from validated `values`.

        `values` must contain every hyper-parameter, as `resolve()`
        returns them.
        """
        kwargs = {}
        for param_name, value in values.items():
            param = self.hyperparameters[param_name]
            if not param.keras_argument:
                continue
            if param.off_value is not None and value == param.off_value:
                value = None
            kwargs[param_name] = value
        return self.class_for(values)(**kwargs)
