"""Readers for the IDX and `.npz` files of MNIST and Fashion-MNIST.

Every reader in this package (here and in `_cifar`) returns a `RawData`:
the images as `uint8` arrays of shape `(N, H, W, C)`, the labels as `int64`,
the class names and, for each file read, its path, SHA-256 and size. A file
that is truncated or not in the expected format raises `DatasetFormatError`
naming the file and what is wrong with it. Readers only read: they never
write, move or delete a file.

The formats:

- IDX (MNIST, Fashion-MNIST): a 4-byte magic number (two zero bytes, the
  element type, 0x08 for unsigned bytes, and the number of dimensions), one
  big-endian uint32 per dimension, then the elements in row-major order.
  Files are usually gzip-compressed.
- `mnist.npz` as Keras publishes it: arrays `x_train`, `y_train`, `x_test`
  and `y_test`.
"""

import dataclasses
import gzip
import hashlib
import io
import os
import struct
import zipfile
import zlib

import numpy as np

from labkit.data import _checksums
from labkit.errors import DatasetFormatError

# The four IDX files of MNIST and Fashion-MNIST, without the `.gz` suffix.
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

NPZ_KEYS = ("x_train", "y_train", "x_test", "y_test")

_IDX_UNSIGNED_BYTE = 0x08
_HASH_CHUNK_BYTES = 1 << 20


@dataclasses.dataclass
class RawData:
    """A dataset as read from disk, before scaling and splitting.

    Attributes:
        x_train: `uint8` images, shape `(N, H, W, C)`.
        y_train: `int64` labels, shape `(N,)`.
        x_test: `uint8` images, shape `(M, H, W, C)`.
        y_test: `int64` labels, shape `(M,)`.
        class_names: One name per class, indexed by label.
        files: One `{"path", "sha256", "bytes"}` dict per file read.
        variant: `"cifar10"` or `"cifar100"` for CIFAR files, else `None`.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple
    files: list
    variant: str | None = None


# ---------------------------------------------------------------- files


def file_record(path, data):
    return {
        "path": os.path.abspath(path),
        "sha256": hashlib.sha256(data).hexdigest(),
        "bytes": len(data),
    }


def hash_file(path):
    """Return the record of a file hashed in chunks, without keeping it."""
    digest = hashlib.sha256()
    size = 0
    try:
        with open(path, "rb") as stream:
            while chunk := stream.read(_HASH_CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
    except OSError as error:
        raise DatasetFormatError(f"{path} cannot be read: {error}") from error
    return {
        "path": os.path.abspath(path),
        "sha256": digest.hexdigest(),
        "bytes": size,
    }


def read_bytes(path):
    try:
        with open(path, "rb") as stream:
            return stream.read()
    except OSError as error:
        raise DatasetFormatError(f"{path} cannot be read: {error}") from error


def check_label_range(labels, num_classes, path):
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise DatasetFormatError(
            f"{path} has labels from {labels.min()} to {labels.max()}, "
            f"outside the {num_classes} classes 0 to {num_classes - 1}."
        )


# ---------------------------------------------------------------- IDX


def _decompress(data, path):
    if data[:2] != b"\x1f\x8b":
        raise DatasetFormatError(
            f"{path} is not a gzip file (it does not start with the gzip "
            "magic bytes 1f 8b)."
        )
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetFormatError(
            f"{path} is a truncated or corrupt gzip file: {error}"
        ) from error


def parse_idx(data, path, ndim):
    """Parse the bytes of an IDX file of unsigned bytes.

    Args:
        data: The uncompressed file content.
        path: The file, for error messages.
        ndim: The number of dimensions expected: 1 for labels, 3 for
            images.

    Returns:
        A read-only `uint8` array viewing `data`.

    Raises:
        DatasetFormatError: If the magic number is wrong or the size does
            not match the header.
    """
    expected_magic = bytes((0, 0, _IDX_UNSIGNED_BYTE, ndim))
    if len(data) < 4:
        raise DatasetFormatError(
            f"{path} is truncated: {len(data)} bytes, fewer than the 4-byte "
            "IDX magic number."
        )
    if data[:4] != expected_magic:
        raise DatasetFormatError(
            f"{path} has the magic number 0x{data[:4].hex()}, expected "
            f"0x{expected_magic.hex()} (IDX, unsigned bytes, {ndim} "
            "dimension(s)). It is not this IDX file or it is corrupt."
        )
    header_bytes = 4 + 4 * ndim
    if len(data) < header_bytes:
        raise DatasetFormatError(
            f"{path} is truncated: {len(data)} bytes, fewer than its "
            f"{header_bytes}-byte IDX header."
        )
    shape = struct.unpack(f">{ndim}I", data[4:header_bytes])
    expected_bytes = header_bytes + int(np.prod(shape, dtype=np.int64))
    if len(data) < expected_bytes:
        raise DatasetFormatError(
            f"{path} is truncated: {len(data)} bytes, but its header "
            f"declares shape {shape}, which needs {expected_bytes} bytes."
        )
    if len(data) > expected_bytes:
        raise DatasetFormatError(
            f"{path} has {len(data) - expected_bytes} bytes after the data "
            f"its header declares (shape {shape}); it is corrupt."
        )
    return np.frombuffer(data, np.uint8, offset=header_bytes).reshape(shape)


def find_idx_file(folder, stem):
    """Return the path of an IDX file, compressed or not, or None."""
    for name in (f"{stem}.gz", stem):
        path = os.path.join(folder, name)
        if os.path.isfile(path):
            return path
    return None


def _read_idx_file(path, ndim, files, dataset):
    stored = read_bytes(path)
    files.append(file_record(path, stored))
    data = _decompress(stored, path) if path.endswith(".gz") else stored
    if dataset is not None:
        _checksums.check_idx_file(
            path, stored, data if data is not stored else None, dataset
        )
    return parse_idx(data, path, ndim)


def read_idx_folder(folder, class_names, dataset=None):
    """Read the four MNIST-style IDX files of a folder.

    Each file may be gzip-compressed (`train-images-idx3-ubyte.gz`) or not
    (`train-images-idx3-ubyte`); the compressed one is read when both exist.

    Args:
        folder: The folder that contains the files.
        class_names: The names of the classes, indexed by label.
        dataset: `"mnist"` or `"fashion_mnist"` to reject a file whose
            checksum marks it as the other dataset's (see `_checksums`).
            `None` checks nothing.

    Returns:
        A `RawData` with images of shape `(N, H, W, 1)`.

    Raises:
        DatasetFormatError: If a file is missing, truncated or corrupt, the
            files do not fit together, or a file belongs to the other
            dataset.
    """
    paths = {
        key: find_idx_file(folder, stem) for key, stem in IDX_FILES.items()
    }
    missing = [IDX_FILES[key] for key, path in paths.items() if path is None]
    if missing:
        raise DatasetFormatError(
            f"{folder} has an incomplete set of IDX files: "
            f"{', '.join(missing)} missing (as .gz or uncompressed). It "
            f"needs {', '.join(IDX_FILES.values())}."
        )

    files = []
    arrays = {}
    for key, path in paths.items():
        ndim = 3 if key.endswith("images") else 1
        arrays[key] = _read_idx_file(path, ndim, files, dataset)

    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if len(images) != len(labels):
            raise DatasetFormatError(
                f"{paths[f'{split}_images']} has {len(images)} images but "
                f"{paths[f'{split}_labels']} has {len(labels)} labels; they "
                "must match."
            )
        check_label_range(labels, len(class_names), paths[f"{split}_labels"])
    if arrays["train_images"].shape[1:] != arrays["test_images"].shape[1:]:
        raise DatasetFormatError(
            f"{paths['train_images']} has images of shape "
            f"{arrays['train_images'].shape[1:]} but {paths['test_images']} "
            f"has {arrays['test_images'].shape[1:]}; they must match."
        )

    return RawData(
        x_train=arrays["train_images"][..., np.newaxis],
        y_train=arrays["train_labels"].astype(np.int64),
        x_test=arrays["test_images"][..., np.newaxis],
        y_test=arrays["test_labels"].astype(np.int64),
        class_names=tuple(class_names),
        files=files,
    )


# ---------------------------------------------------------------- NPZ


def read_mnist_npz(path, class_names):
    """Read `mnist.npz` as Keras publishes it.

    Args:
        path: The `.npz` file, with arrays `x_train`, `y_train`, `x_test`
            and `y_test`.
        class_names: The names of the classes, indexed by label.

    Returns:
        A `RawData` with images of shape `(N, H, W, 1)`.

    Raises:
        DatasetFormatError: If the file is not a readable `.npz`, lacks an
            array or contains arrays of the wrong dtype or shape.
    """
    data = read_bytes(path)
    record = file_record(path, data)
    arrays = {}
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            missing = [key for key in NPZ_KEYS if key not in archive.files]
            if missing:
                raise DatasetFormatError(
                    f"{path} lacks the array(s) {', '.join(missing)}; "
                    f"mnist.npz contains {', '.join(NPZ_KEYS)}. Found: "
                    f"{', '.join(archive.files) or 'no arrays'}."
                )
            for key in NPZ_KEYS:
                arrays[key] = archive[key]
    except (
        zipfile.BadZipFile,
        zlib.error,
        ValueError,
        OSError,
        EOFError,
    ) as error:
        raise DatasetFormatError(
            f"{path} is not a readable .npz file (truncated or corrupt?): "
            f"{type(error).__name__}: {error}"
        ) from error

    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.dtype != np.uint8 or images.ndim not in (3, 4):
            raise DatasetFormatError(
                f"{path} has x_{split} of dtype {images.dtype} and shape "
                f"{images.shape}, expected uint8 of shape (N, H, W)."
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise DatasetFormatError(
                f"{path} has y_{split} of shape {labels.shape}, expected "
                f"({len(images)},), one label per image of x_{split}."
            )
        if images.ndim == 3:
            arrays[f"x_{split}"] = images[..., np.newaxis]
        if not np.issubdtype(labels.dtype, np.integer):
            raise DatasetFormatError(
                f"{path} has y_{split} of dtype {labels.dtype}, expected "
                "integers."
            )
        check_label_range(labels, len(class_names), f"{path} (y_{split})")

    return RawData(
        x_train=arrays["x_train"],
        y_train=arrays["y_train"].astype(np.int64),
        x_test=arrays["x_test"],
        y_test=arrays["y_test"].astype(np.int64),
        class_names=tuple(class_names),
        files=[record],
    )
