"""Registered gradient-descent optimizers, their hyper-parameters and presets.

Each optimizer that Keras 3 ships as a standalone class has an entry, plus
`momentum` and `nesterov`, which are SGD with momentum 0.9. Two presets set
the defaults: `"keras3"` (the installed Keras defaults) and `"keras2017"`
(the Keras 2.0 defaults of mid-2017).

NOTE: `keras.optimizers.LossScaleOptimizer` and `MultiOptimizer` wrap other
optimizers instead of defining an update rule, so they have no entries.

Example:

>>> from labkit import optimizers
>>> optimizers.resolve("momentum", learning_rate=0.05)
{'learning_rate': 0.05, 'momentum': 0.9, 'nesterov': False}
>>> optimizer = optimizers.get("adagrad", preset="keras2017")
"""

from labkit.optimizers._adagrad2017 import Adagrad2017
from labkit.optimizers._registry import PRESETS
from labkit.optimizers._registry import get
from labkit.optimizers._registry import names
from labkit.optimizers._registry import resolve
from labkit.optimizers._registry import spec
from labkit.optimizers._spec import HyperParameter
from labkit.optimizers._spec import Interval
from labkit.optimizers._spec import OptimizerSpec
from labkit.optimizers._spec import describe_range

__all__ = [
    "PRESETS",
    "Adagrad2017",
    "HyperParameter",
    "Interval",
    "OptimizerSpec",
    "describe_range",
    "get",
    "names",
    "resolve",
    "spec",
]
