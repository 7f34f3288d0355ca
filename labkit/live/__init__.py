"""Live plots of a comparison in JupyterLab, updated while training runs.

`LiveComparison` shows Train and Stop buttons, progress, the figures of the
2017 study (loss, accuracy and time per epoch, and the loss within each
epoch) and the min/mean/max table, and trains in a background thread. The
plots are Bokeh documents inside jupyter_bokeh's `BokehModel` widget, so
they are ordinary ipywidgets; BokehJS is loaded inline from the installed
Bokeh, so nothing is fetched from the internet.

Example:

```python
from labkit.live import LiveComparison

live = LiveComparison(["sgd", "adam"], dataset="fashion_mnist", epochs=5, train_size=6000)
live                    # the dashboard; press Train, or:
live.start()
result = live.wait()    # blocks until training ends; see `LiveComparison.wait`
```

`Dashboard` alone is a sink for `labkit.training.compare` and `resume`:
`compare(..., sinks=[dashboard.sink])`.
"""

from labkit._lazy import lazy_attributes

# Public names and their modules, imported on first use, so that a light
# submodule such as `labkit.live._figures` loads without Keras or widgets.
_LAZY = {
    "LiveComparison": "labkit.live._app",
    "compare_live": "labkit.live._app",
    "DEFAULT_BATCH_POINTS": "labkit.live._dashboard",
    "Dashboard": "labkit.live._dashboard",
    "BATCH_AXIS_LABEL": "labkit.live._figures",
    "PALETTE": "labkit.live._figures",
    "optimizer_styles": "labkit.live._figures",
    "LiveDisplayError": "labkit.live._frontend",
    "check_live_support": "labkit.live._frontend",
    "load_bokehjs": "labkit.live._frontend",
    "history_figures": "labkit.live._history",
    "LiveSink": "labkit.live._sink",
    "UpdateQueue": "labkit.live._updates",
}


__getattr__, __dir__ = lazy_attributes(__name__, _LAZY)

__all__ = [
    "BATCH_AXIS_LABEL",
    "DEFAULT_BATCH_POINTS",
    "Dashboard",
    "LiveComparison",
    "LiveDisplayError",
    "LiveSink",
    "PALETTE",
    "UpdateQueue",
    "check_live_support",
    "compare_live",
    "history_figures",
    "load_bokehjs",
    "optimizer_styles",
]
