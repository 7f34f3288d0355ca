"""The optimizer app for a class, served with Voila by `labkit app`.

`build_app()` returns an `OptimizerApp`: a form generated from the optimizer
registry, live plots, the summary table and the stored comparisons of a
shared results store, laid out with ipywidgets' `AppLayout`.
`labkit.app.serve.main` serves `notebooks/app.ipynb`, which only builds and
displays it, with preheated kernels, idle-kernel culling and the
instructor's limits (see `AppSettings`).

Keras loads on first use of a name that needs it, so that the server
process (`labkit.app.serve`) never imports TensorFlow.

Example, in a notebook:

```python
from labkit.app import build_app

build_app()
```
"""

from labkit._lazy import lazy_attributes

_LAZY = {
    "AppSettings": "labkit.app._settings",
    "SETTINGS_ENV": "labkit.app._settings",
    "Ticket": "labkit.app._queue",
    "TrainingSlots": "labkit.app._queue",
    "HyperParameterControl": "labkit.app._controls",
    "OptimizerPanel": "labkit.app._controls",
    "TrainingForm": "labkit.app._form",
    "TrainingRequest": "labkit.app._form",
    "parse_seeds": "labkit.app._form",
    "OptimizerApp": "labkit.app._app",
    "build_app": "labkit.app._app",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = sorted(_LAZY)
