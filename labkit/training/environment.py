"""A description of the software and hardware a comparison ran on."""

import importlib.metadata
import platform

import keras


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def list_devices():
    """Return the devices Keras' backend can use, such as `["cpu:0"]`."""
    try:
        return [str(device) for device in keras.distribution.list_devices()]
    except (NotImplementedError, RuntimeError, AttributeError, ValueError):
        return []


def describe_environment():
    """Return versions, backend and devices as a JSON-serialisable dict."""
    devices = list_devices()
    return {
        "labkit": _version("labkit"),
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "tensorflow": _version("tensorflow"),
        "jax": _version("jax"),
        "torch": _version("torch"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "devices": devices,
        "accelerator": next((d for d in devices if not d.lower().startswith("cpu")), None),
    }
