"""labkit: compare gradient-descent optimizers on real Keras models.

The heavy modules (Keras and its backend) load on first use, so that
`labkit --help` and `import labkit` stay fast.
"""

import importlib
import importlib.metadata

try:
    __version__ = importlib.metadata.version("labkit")
except importlib.metadata.PackageNotFoundError:  # running from a source tree
    __version__ = "0.0.0+unknown"

_LAZY = {
    "compare": "labkit.training",
    "resume": "labkit.training",
    "RunConfig": "labkit.training",
    "ResultsStore": "labkit.training",
    "Sink": "labkit.training",
    "load_dataset": "labkit.data",
    "build_model": "labkit.models",
    "summarize": "labkit.stats",
}

_SUBMODULES = ("data", "models", "optimizers", "training", "stats", "augmentation", "errors")


def __getattr__(name):
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    if name in _SUBMODULES:
        return importlib.import_module(f"labkit.{name}")
    raise AttributeError(f"module 'labkit' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_LAZY, *_SUBMODULES])


__all__ = ["__version__", *_LAZY]
