"""What the live dashboard needs from Jupyter: jupyter_bokeh, BokehJS, a kernel.

Live plots are Bokeh documents wrapped in jupyter_bokeh's `BokehModel`
widget. Without jupyter_bokeh, or with its JupyterLab extension missing,
JupyterLab shows an empty space or "Error displaying widget" where the plots
should be, so labkit checks before training and says what to install.
"""

import json
import logging
import pathlib

from labkit.errors import LabkitError

logger = logging.getLogger(__name__)

INSTALL_HINT = (
    "Install it into the kernel's environment with `pip install jupyter_bokeh`, "
    "then restart JupyterLab."
)
_bokehjs_loaded = False


class LiveDisplayError(LabkitError):
    """The live dashboard cannot be shown in this Jupyter environment."""


def check_live_support():
    """Check that jupyter_bokeh and matching BokehJS files are installed.

    Returns:
        The version of jupyter_bokeh.

    Raises:
        LiveDisplayError: naming what is missing and how to install it.
    """
    try:
        import jupyter_bokeh
    except ImportError:
        raise LiveDisplayError(
            "The live dashboard needs the jupyter_bokeh package, which is not installed. "
            + INSTALL_HINT
        ) from None
    import bokeh
    from bokeh.util.paths import bokehjs_path

    major = bokeh.__version__.split(".")[0]
    if major != "3":
        raise LiveDisplayError(
            f"jupyter_bokeh {jupyter_bokeh.__version__} renders Bokeh 3 documents, but Bokeh "
            f"{bokeh.__version__} is installed. Install Bokeh 3 with `pip install 'bokeh>=3.4,<4'`."
        )
    bokehjs = pathlib.Path(bokehjs_path()) / "js" / "bokeh.min.js"
    if not bokehjs.is_file():
        raise LiveDisplayError(
            f"The BokehJS file {bokehjs} of Bokeh {bokeh.__version__} is missing, so the "
            "plots cannot load without internet. Reinstall Bokeh with "
            "`pip install --force-reinstall bokeh`."
        )
    found = _labextension_version()
    if found is None:
        raise LiveDisplayError(
            f"jupyter_bokeh {jupyter_bokeh.__version__} is installed, but its JupyterLab "
            "extension (@bokeh/jupyter_bokeh) was not found in any Jupyter data folder. "
            "Reinstall it with `pip install --force-reinstall jupyter_bokeh`, then restart "
            "JupyterLab."
        )
    if found != jupyter_bokeh.__version__:
        logger.warning(
            "The JupyterLab extension @bokeh/jupyter_bokeh is version %s but the Python "
            "package jupyter_bokeh is %s; if the plots stay empty, reinstall jupyter_bokeh.",
            found, jupyter_bokeh.__version__,
        )
    return jupyter_bokeh.__version__


def _labextension_version():
    from jupyter_core.paths import jupyter_path

    for folder in jupyter_path("labextensions"):
        package = pathlib.Path(folder) / "@bokeh" / "jupyter_bokeh" / "package.json"
        if package.is_file():
            try:
                return json.loads(package.read_text())["version"]
            except (OSError, ValueError, KeyError):
                return "unknown"
    return None


def running_kernel():
    """Return the IPython kernel this code runs in, or `None`."""
    try:
        from IPython import get_ipython
    except ImportError:
        return None
    shell = get_ipython()
    return getattr(shell, "kernel", None) if shell is not None else None


def kernel_io_loop():
    """Return the running kernel's Tornado IO loop, or `None` outside a kernel."""
    return getattr(running_kernel(), "io_loop", None)


def load_bokehjs(force=False):
    """Load BokehJS into the notebook page from the installed files.

    The JavaScript comes inline from the installed Bokeh (a few MB in the
    notebook's output), so plots render without internet and BokehJS always
    matches the Python package. Outside a kernel it does nothing.

    Args:
        force: Load again even if this kernel loaded BokehJS before, as
            after clearing the output that loaded it and reloading the page.
    """
    global _bokehjs_loaded
    if (_bokehjs_loaded and not force) or running_kernel() is None:
        return
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE

    output_notebook(resources=INLINE, hide_banner=True)
    _bokehjs_loaded = True
