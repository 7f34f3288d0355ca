"""The `Dataset` container and `load_dataset`, which fills it."""

import dataclasses
import logging
import numbers
import os

import numpy as np

from labkit.data import _download, _sources, _splits
from labkit.errors import DatasetUnavailableError

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True, eq=False)
class Dataset:
    """An image classification dataset, scaled and split, ready for Keras.

    Images are `float32` in `[0, 1]`, channels last, shape `(N, H, W, C)`
    with `C=1` for the MNISTs. Labels are `int64` class indices, shape
    `(N,)`.

    Attributes:
        name: The dataset name, one of `DATASETS`.
        x_train: Training images, without the validation images.
        y_train: Training labels.
        x_val: Validation images, or `None` without a validation set. With
            `validation="test"` it is the same array as `x_test`.
        y_val: Validation labels, or `None`.
        x_test: Test images.
        y_test: Test labels.
        class_names: One name per class, indexed by label.
        metadata: JSON-serialisable description of where the data came from
            and how it was split. Keys: `name`, `source` (`"data_dir"`,
            `"keras_cache"`, `"debian"` or `"download"`), `location` (the
            file or folder read), `format`, `files` (a list of `{"path",
            "sha256", "bytes"}`), `train_size`, `validation` and `seed` (as
            passed), `sizes` (images per split), `input_shape` and
            `num_classes`.
    """

    name: str
    x_train: np.ndarray = dataclasses.field(repr=False)
    y_train: np.ndarray = dataclasses.field(repr=False)
    x_val: np.ndarray | None = dataclasses.field(repr=False)
    y_val: np.ndarray | None = dataclasses.field(repr=False)
    x_test: np.ndarray = dataclasses.field(repr=False)
    y_test: np.ndarray = dataclasses.field(repr=False)
    class_names: tuple
    metadata: dict = dataclasses.field(repr=False)

    @property
    def input_shape(self):
        """The shape of one image, `(H, W, C)`."""
        return tuple(self.x_train.shape[1:])

    @property
    def num_classes(self):
        """The number of classes."""
        return len(self.class_names)


def _to_unit_float(images, indices=None):
    """Scale `uint8` images to `float32` in `[0, 1]` with one allocation."""
    if indices is not None:
        images = images[indices]
    scaled = np.empty(images.shape, dtype=np.float32)
    np.divide(images, np.float32(255), out=scaled)
    return scaled


def _json_value(value):
    """Convert a numpy scalar option to the matching Python type."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def _fetch(name, data_dir, download):
    """Find and read a dataset's files.

    Returns:
        A tuple `(raw, source, location, file_format)`: the `RawData`, the
        source kind, the file or folder read and its layout kind.
        `location` and `file_format` are `None` when the arrays come from
        Keras directly.
    """
    found, misses = _sources.find(name, data_dir)
    data_folder = None if data_dir is None else os.path.expanduser(data_dir)
    if data_folder is not None and not os.path.isdir(data_folder):
        logger.warning(
            "data_dir %s does not exist; looking for %s elsewhere.",
            data_dir,
            name,
        )
    if found is not None:
        raw = _sources.read(name, found.layout, found.path)
        return raw, found.source.kind, found.path, found.layout.kind

    loader = f"keras.datasets.{name}.load_data()"
    skip_reason = _download.download_skip_reason(download)
    if skip_reason is not None:
        misses.append(f"download with {loader}: {skip_reason}")
    else:
        logger.info("%s not found offline; downloading with %s", name, loader)
        try:
            raw, layout, path = _download.download(name)
        except Exception as error:
            # Keras raises a plain Exception for network failures.
            misses.append(
                f"download with {loader}: failed: "
                f"{type(error).__name__}: {error}"
            )
        else:
            file_format = None if layout is None else layout.kind
            return raw, "download", path, file_format

    tried = "\n".join(
        f"  {number}. {line}" for number, line in enumerate(misses, start=1)
    )
    raise DatasetUnavailableError(
        f"Dataset {name!r} is not available. Places tried, in order:\n"
        f"{tried}\n"
        f"To fix this, {_sources.fix_hint(name)}."
    )


def load_dataset(
    name="cifar10",
    *,
    data_dir=None,
    train_size=None,
    validation=None,
    seed=0,
    download=True,
):
    """Load an image dataset, scaled to `[0, 1]`, subset and split.

    The files are looked for, in order, in the data folder (`data_dir`, else
    the environment variable `LABKIT_DATA_DIR`), in the Keras cache
    (`$KERAS_HOME/datasets` or `~/.keras/datasets`), in Debian's
    `/usr/share/datasets/fashion-mnist` (Fashion-MNIST only), and last they
    are downloaded with `keras.datasets.<name>.load_data()`, unless
    `download=False` or `LABKIT_OFFLINE` is `1`, `true`, `yes` or `on`. The
    first place that has the
    files is used. A damaged file there raises an error rather than falling
    through to the next place.

    Args:
        name: One of `DATASETS`. Defaults to `"cifar10"`.
        data_dir: A folder with the dataset files (see `locate()` for the
            accepted names). Defaults to `LABKIT_DATA_DIR`.
        train_size: The number of training images to keep, drawn per class
            so that the classes are as equal as possible, from the number of
            classes to the whole training set. `None` keeps all. Defaults to
            `None`.
        validation: The validation set, held out of the (subset) training
            set per class. `None` means none, a float in (0, 1) a fraction,
            an int a count, and `"test"` uses the test set as validation
            set, as the 2017 study did. Defaults to `None`.
        seed: Non-negative integer that fixes the subset and the split.
            Defaults to `0`.
        download: Whether to download the dataset when no local copy is
            found. Defaults to `True`.

    Returns:
        A `Dataset`.

    Raises:
        UnknownNameError: If `name` is not in `DATASETS`.
        ConfigError: If `train_size`, `validation` or `seed` is invalid,
            or `LABKIT_OFFLINE` has an unknown value.
        DatasetUnavailableError: If no place has the files and the download
            failed or was skipped. The message lists every place tried and
            which file to put where.
        DatasetFormatError: If a file found is truncated or corrupt, or
            holds another dataset (CIFAR-100 for CIFAR-10, Fashion-MNIST
            for MNIST and the reverse).
    """
    _sources.check_name(name)
    _splits.check_seed(seed)
    _splits.check_train_size(train_size)
    _splits.check_validation(validation)
    _download.offline_from_environment()

    raw, source, location, file_format = _fetch(name, data_dir, download)
    num_classes = len(raw.class_names)
    y_train = raw.y_train

    train_indices = None
    if train_size is not None:
        train_indices = _splits.stratified_subset(
            y_train, num_classes, train_size, seed, name
        )
        y_train = y_train[train_indices]

    validation_indices = None
    if validation is not None and validation != "test":
        # The split returns positions in y_train; map them back to
        # positions in the whole training set when a subset was drawn.
        train_positions, validation_positions = _splits.stratified_split(
            y_train, num_classes, validation, seed
        )
        if train_indices is None:
            train_indices = train_positions
            validation_indices = validation_positions
        else:
            validation_indices = train_indices[validation_positions]
            train_indices = train_indices[train_positions]
        y_train = raw.y_train[train_indices]

    x_test = _to_unit_float(raw.x_test)
    if validation == "test":
        x_val, y_val = x_test, raw.y_test
    elif validation_indices is not None:
        x_val = _to_unit_float(raw.x_train, validation_indices)
        y_val = raw.y_train[validation_indices]
    else:
        x_val = y_val = None
    x_train = _to_unit_float(raw.x_train, train_indices)

    metadata = {
        "name": name,
        "source": source,
        "location": location,
        "format": file_format,
        "files": raw.files,
        "train_size": _json_value(train_size),
        "validation": _json_value(validation),
        "seed": int(seed),
        "sizes": {
            "train": len(x_train),
            "validation": 0 if x_val is None else len(x_val),
            "test": len(x_test),
        },
        "input_shape": list(x_train.shape[1:]),
        "num_classes": num_classes,
    }
    logger.info(
        "Loaded %s from source %s (%s): %d training, %d validation, %d "
        "test images",
        name,
        source,
        location or "arrays returned by Keras",
        metadata["sizes"]["train"],
        metadata["sizes"]["validation"],
        metadata["sizes"]["test"],
    )
    return Dataset(
        name=name,
        x_train=x_train,
        y_train=y_train,
        x_val=x_val,
        y_val=y_val,
        x_test=x_test,
        y_test=raw.y_test,
        class_names=raw.class_names,
        metadata=metadata,
    )
