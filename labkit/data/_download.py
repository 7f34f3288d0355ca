"""The last source: a download through `keras.datasets.<name>.load_data()`.

It runs only when no local source has the files, and it is skipped with
`download=False` or when the environment variable `LABKIT_OFFLINE` is `1`,
`true`, `yes` or `on` (in any case).
"""

import logging
import os
import socket

import numpy as np

from labkit.data import _formats, _sources
from labkit.errors import ConfigError

logger = logging.getLogger(__name__)

OFFLINE_ENV = "LABKIT_OFFLINE"
OFFLINE_VALUES = ("1", "true", "yes", "on")
ONLINE_VALUES = ("0", "false", "no", "off", "")
# Per blocking socket operation (connect, each read), not for the whole
# download. DNS lookups are not bounded by it.
DOWNLOAD_SOCKET_TIMEOUT_S = 10.0


def offline_from_environment():
    """Return whether `LABKIT_OFFLINE` turns downloads off.

    Raises:
        ConfigError: If the variable is set to a value that is neither in
            `OFFLINE_VALUES` nor in `ONLINE_VALUES`, in any case.
    """
    value = os.environ.get(OFFLINE_ENV, "")
    if value.strip().lower() in OFFLINE_VALUES:
        return True
    if value.strip().lower() in ONLINE_VALUES:
        return False
    raise ConfigError(
        f"{OFFLINE_ENV} must be one of {', '.join(OFFLINE_VALUES)} to turn "
        f"dataset downloads off, or one of "
        f"{', '.join(v for v in ONLINE_VALUES if v)} (or unset) to allow "
        f"them. Received: {OFFLINE_ENV}={value!r}. Set it to one of these "
        "values or unset it."
    )


def download_skip_reason(download):
    """Return why the download source is skipped, or `None` to try it.

    Raises:
        ConfigError: If `LABKIT_OFFLINE` has an unknown value.
    """
    offline = offline_from_environment()
    if not download:
        return "skipped (download=False)"
    if offline:
        return f"skipped (${OFFLINE_ENV}={os.environ[OFFLINE_ENV]})"
    return None


def download(name):
    """Download a dataset with `keras.datasets.<name>.load_data()`.

    Keras keeps the files in its cache. They are then read from there, so
    that the metadata lists their hashes. If they cannot be found there
    (Keras read `KERAS_HOME` on import and it changed since), the arrays
    Keras returned are used and the metadata lists no files.

    Returns:
        A tuple `(raw, layout, path)`: the `RawData`, and the `Layout` and
        path read, both `None` for the arrays Keras returned.

    Raises:
        Exception: Whatever Keras raises when the download fails; Keras
            wraps network errors in a plain `Exception`.
    """
    import keras

    loader = getattr(keras.datasets, name).load_data
    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(DOWNLOAD_SOCKET_TIMEOUT_S)
    try:
        (x_train, y_train), (x_test, y_test) = loader()
    finally:
        socket.setdefaulttimeout(previous_timeout)

    for source in _sources.sources(name):
        if source.kind != "keras_cache":
            continue
        for layout in source.layouts:
            path = os.path.normpath(
                os.path.join(source.folder, layout.relative_path)
            )
            if _sources.is_present(layout, path, name):
                return _sources.read(name, layout, path), layout, path

    logger.warning(
        "Keras downloaded %s to a folder labkit does not search (%s); using "
        "the arrays it returned, without file hashes.",
        name,
        ", ".join(_sources.keras_cache_folders()),
    )
    raw = _raw_from_arrays(name, x_train, y_train, x_test, y_test)
    return raw, None, None


def _channels_last(images):
    """Return uint8 images as `(N, H, W, C)`.

    Keras returns MNIST images as `(N, H, W)` and CIFAR images in the
    layout of `keras.config.image_data_format()`.
    """
    images = np.asarray(images, dtype=np.uint8)
    if images.ndim == 3:
        return images[..., np.newaxis]
    if images.shape[1] == 3 and images.shape[-1] != 3:
        return images.transpose(0, 2, 3, 1)
    return images


def _raw_from_arrays(name, x_train, y_train, x_test, y_test):
    if name in ("cifar10", "cifar100"):
        # NOTE: CIFAR class names come from its files, which were not found,
        # so the label numbers serve as class names.
        names = tuple(str(label) for label in range(_sources.NUM_CLASSES[name]))
    else:
        names = _sources.class_names(name)
    return _formats.RawData(
        x_train=_channels_last(x_train),
        y_train=np.asarray(y_train, dtype=np.int64).reshape(-1),
        x_test=_channels_last(x_test),
        y_test=np.asarray(y_test, dtype=np.int64).reshape(-1),
        class_names=names,
        files=[],
        variant=name if name.startswith("cifar") else None,
    )
