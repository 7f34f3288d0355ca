"""Public names of a package, imported from their modules on first use.

A package that assigns the two functions of `lazy_attributes` to its
`__getattr__` and `__dir__` (PEP 562) imports nothing heavy itself, so
its light submodules load without Keras, Bokeh or widgets.
"""

import importlib
import sys


def lazy_attributes(package, names):
    """Build the `__getattr__` and `__dir__` of a package with lazy names.

    Args:
        package: The package's `__name__`.
        names: Mapping from each public name to the module that defines it.

    Returns:
        `(__getattr__, __dir__)`, to assign in the package's namespace.
    """

    def __getattr__(name):
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__():
        return sorted([*vars(sys.modules[package]), *names])

    return __getattr__, __dir__
