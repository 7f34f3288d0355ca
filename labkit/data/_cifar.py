"""Reader for the CIFAR-10 and CIFAR-100 python version.

The format (https://www.cs.toronto.edu/~kriz/cifar.html): a `.tar.gz`
archive of pickled dicts. Each batch contains `data`, a `uint8` array of
shape `(N, 3072)` whose rows are the red, green and blue 32x32 planes one
after the other, each row-major, and a list of labels (`labels` in
CIFAR-10, `fine_labels` and `coarse_labels` in CIFAR-100). The class names
are in `batches.meta` (`label_names`) or `meta` (`fine_label_names`).
"""

import io
import os
import pickle
import tarfile
import zlib

import numpy as np

from labkit.data._formats import (
    RawData,
    check_label_range,
    file_record,
    hash_file,
    read_bytes,
)
from labkit.errors import DatasetFormatError

CIFAR10_FILES = (
    "batches.meta",
    "data_batch_1",
    "data_batch_2",
    "data_batch_3",
    "data_batch_4",
    "data_batch_5",
    "test_batch",
)
CIFAR100_FILES = ("meta", "train", "test")

_CIFAR_SIDE = 32
_CIFAR_ROW_BYTES = 3 * _CIFAR_SIDE * _CIFAR_SIDE


def _allowed_pickle_globals():
    """Map each global a CIFAR pickle may name to the object it stands for.

    Unpickling can run arbitrary code, so only the functions that rebuild a
    numpy array (and `_codecs.encode`, which protocol 2 pickles written by
    Python 3 use for bytes) are allowed. Both the numpy 1 (`numpy.core`) and
    numpy 2 (`numpy._core`) module names map to the installed function.
    """
    import codecs

    try:
        from numpy._core import multiarray, numeric
    except ImportError:  # numpy 1
        from numpy.core import multiarray, numeric

    allowed = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("_codecs", "encode"): codecs.encode,
    }
    for package in ("numpy.core", "numpy._core"):
        allowed[(f"{package}.multiarray", "_reconstruct")] = (
            multiarray._reconstruct
        )
        allowed[(f"{package}.numeric", "_frombuffer")] = numeric._frombuffer
    return allowed


class _CifarUnpickler(pickle.Unpickler):
    _allowed = None

    def find_class(self, module, name):
        if _CifarUnpickler._allowed is None:
            _CifarUnpickler._allowed = _allowed_pickle_globals()
        try:
            return self._allowed[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(
                f"the pickle refers to {module}.{name}, which a CIFAR batch "
                "never contains"
            ) from None


def _unpickle_cifar(data, path):
    """Unpickle one CIFAR file into a dict with `str` keys."""
    try:
        # The CIFAR files are Python 2 pickles: `encoding="bytes"` keeps
        # their byte strings as bytes instead of decoding them as ASCII.
        content = _CifarUnpickler(io.BytesIO(data), encoding="bytes").load()
    except Exception as error:
        # A damaged pickle can fail with almost any exception type
        # (UnpicklingError, EOFError, ValueError, TypeError, ...).
        raise DatasetFormatError(
            f"{path} is not a valid CIFAR pickle: "
            f"{type(error).__name__}: {error}"
        ) from error
    if not isinstance(content, dict):
        raise DatasetFormatError(
            f"{path} is not a CIFAR batch: it contains a "
            f"{type(content).__name__}, expected a dict."
        )
    return {
        key.decode("latin-1") if isinstance(key, bytes) else key: value
        for key, value in content.items()
    }


def _parse_class_names(content, key, path):
    names = content.get(key)
    if not isinstance(names, (list, tuple)) or not names:
        raise DatasetFormatError(
            f"{path} has no list of class names under the key {key!r}."
        )
    return tuple(
        name.decode("utf-8") if isinstance(name, bytes) else str(name)
        for name in names
    )


def _parse_cifar_batch(content, label_key, num_classes, path):
    """Return the images `(N, 32, 32, 3)` and labels of one CIFAR batch."""
    data = content.get("data")
    if not isinstance(data, np.ndarray):
        raise DatasetFormatError(
            f"{path} has no `data` array; a CIFAR batch needs one."
        )
    if data.dtype != np.uint8 or data.ndim != 2:
        raise DatasetFormatError(
            f"{path} has `data` of dtype {data.dtype} and shape "
            f"{data.shape}, expected uint8 of shape (N, {_CIFAR_ROW_BYTES})."
        )
    if data.shape[1] != _CIFAR_ROW_BYTES:
        raise DatasetFormatError(
            f"{path} has `data` of shape {data.shape}, expected "
            f"(N, {_CIFAR_ROW_BYTES}): 3 colour planes of 32x32 pixels."
        )
    if label_key not in content:
        raise DatasetFormatError(
            f"{path} has no `{label_key}` list; a CIFAR batch needs one."
        )
    try:
        labels = np.asarray(content[label_key], dtype=np.int64)
    except (TypeError, ValueError) as error:
        raise DatasetFormatError(
            f"{path} has `{label_key}` that are not integers: {error}"
        ) from error
    if labels.shape != (data.shape[0],):
        raise DatasetFormatError(
            f"{path} has {data.shape[0]} images but `{label_key}` of shape "
            f"{labels.shape}; expected one label per image."
        )
    check_label_range(labels, num_classes, path)

    # Each row is channel-first (R plane, G plane, B plane); move the
    # channels last. The transposed view is copied by the caller.
    images = data.reshape(-1, 3, _CIFAR_SIDE, _CIFAR_SIDE)
    return images.transpose(0, 2, 3, 1), labels


def _stack(batches):
    """Copy a list of `(images, labels)` into two arrays, freeing each batch.

    Each batch is dropped from the list once copied, so the peak memory is
    the pickled batches plus one output array.
    """
    total = sum(len(labels) for _, labels in batches)
    x = np.empty((total, _CIFAR_SIDE, _CIFAR_SIDE, 3), dtype=np.uint8)
    y = np.empty((total,), dtype=np.int64)
    start = 0
    while batches:
        images, labels = batches.pop(0)
        x[start : start + len(labels)] = images
        y[start : start + len(labels)] = labels
        start += len(labels)
    return x, y


def _cifar_variant(names, where):
    """Tell CIFAR-10 from CIFAR-100 by the file names present."""
    names = set(names)
    if "batches.meta" in names:
        return "cifar10", CIFAR10_FILES
    if "meta" in names:
        return "cifar100", CIFAR100_FILES
    raise DatasetFormatError(
        f"{where} is not a CIFAR dataset: it has neither batches.meta "
        "(CIFAR-10) nor meta (CIFAR-100)."
    )


def _parse_cifar(variant, contents, where):
    """Build `RawData` from the unpickled files of one CIFAR variant.

    Args:
        variant: `"cifar10"` or `"cifar100"`.
        contents: Callable that takes a file name (such as `"test_batch"`)
            and returns `(content, path)` for that file.
        where: The archive or folder, for error messages.
    """
    if variant == "cifar10":
        meta, meta_path = contents("batches.meta")
        class_names = _parse_class_names(meta, "label_names", meta_path)
        label_key = "labels"
        train_files, test_file = CIFAR10_FILES[1:6], "test_batch"
    else:
        meta, meta_path = contents("meta")
        class_names = _parse_class_names(meta, "fine_label_names", meta_path)
        label_key = "fine_labels"
        train_files, test_file = ("train",), "test"

    num_classes = len(class_names)
    train_batches = []
    for name in train_files:
        content, path = contents(name)
        train_batches.append(
            _parse_cifar_batch(content, label_key, num_classes, path)
        )
    x_train, y_train = _stack(train_batches)
    content, path = contents(test_file)
    x_test, y_test = _stack(
        [_parse_cifar_batch(content, label_key, num_classes, path)]
    )
    return x_train, y_train, x_test, y_test, class_names


def read_cifar_folder(folder):
    """Read an extracted CIFAR folder (`cifar-10-batches-py` and the like).

    Returns:
        A `RawData` whose `files` lists every batch file read.

    Raises:
        DatasetFormatError: If a file is missing, truncated or corrupt.
    """
    variant, expected = _cifar_variant(os.listdir(folder), folder)
    missing = [
        name
        for name in expected
        if not os.path.isfile(os.path.join(folder, name))
    ]
    if missing:
        raise DatasetFormatError(
            f"{folder} is an incomplete {variant} folder: "
            f"{', '.join(missing)} missing. It needs {', '.join(expected)}."
        )

    files = []

    def contents(name):
        path = os.path.join(folder, name)
        data = read_bytes(path)
        files.append(file_record(path, data))
        return _unpickle_cifar(data, path), path

    x_train, y_train, x_test, y_test, names = _parse_cifar(
        variant, contents, folder
    )
    return RawData(x_train, y_train, x_test, y_test, names, files, variant)


def _read_archive_members(path):
    """Return the bytes of every regular file of a tar archive, by base name.

    The archive is read once, front to back, which is the fast way through
    a gzip stream.
    """
    members = {}
    try:
        with tarfile.open(path, "r:*") as archive:
            for member in archive:
                if not member.isfile():
                    continue
                name = os.path.basename(member.name)
                if name in CIFAR10_FILES or name in CIFAR100_FILES:
                    members[name] = archive.extractfile(member).read()
    except (tarfile.TarError, EOFError, OSError, zlib.error) as error:
        raise DatasetFormatError(
            f"{path} is not a readable tar archive (truncated or corrupt?): "
            f"{type(error).__name__}: {error}"
        ) from error
    return members


def read_cifar_archive(path):
    """Read a CIFAR python-version archive (`cifar-10-python.tar.gz`).

    Returns:
        A `RawData` whose `files` lists the archive itself.

    Raises:
        DatasetFormatError: If the archive is truncated or corrupt, or a
            batch in it is missing or malformed.
    """
    record = hash_file(path)
    members = _read_archive_members(path)
    variant, expected = _cifar_variant(members, path)
    missing = [name for name in expected if name not in members]
    if missing:
        raise DatasetFormatError(
            f"{path} is an incomplete {variant} archive: "
            f"{', '.join(missing)} missing. It needs {', '.join(expected)}."
        )

    def contents(name):
        where = f"{path}:{name}"
        return _unpickle_cifar(members.pop(name), where), where

    x_train, y_train, x_test, y_test, names = _parse_cifar(
        variant, contents, path
    )
    return RawData(x_train, y_train, x_test, y_test, names, [record], variant)


def read_cifar(path):
    """Read CIFAR-10 or CIFAR-100 (fine labels) from its archive or folder.

    Args:
        path: The python-version archive (`cifar-10-python.tar.gz`,
            `cifar-100-python.tar.gz`) or the folder it extracts to
            (`cifar-10-batches-py`, `cifar-100-python`).

    Returns:
        A tuple `(x_train, y_train, x_test, y_test, class_names)`: `uint8`
        images of shape `(N, 32, 32, 3)`, `int64` labels of shape `(N,)`,
        and the class names as a tuple of str.

    Raises:
        DatasetFormatError: If a file is missing, truncated or corrupt.
        FileNotFoundError: If `path` does not exist.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        raw = read_cifar_folder(path)
    elif os.path.isfile(path):
        raw = read_cifar_archive(path)
    else:
        raise FileNotFoundError(
            f"No CIFAR archive or folder at {path}. Pass the path of "
            "cifar-10-python.tar.gz, cifar-100-python.tar.gz or the folder "
            "they extract to."
        )
    return raw.x_train, raw.y_train, raw.x_test, raw.y_test, raw.class_names
