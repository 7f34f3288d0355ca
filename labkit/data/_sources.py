"""Sources of dataset files, in the order they are tried, and the download.

The sources, in the order they are tried:

1. The data folder: the `data_dir` argument, else the environment variable
   `LABKIT_DATA_DIR`.
2. The Keras cache, `$KERAS_HOME/datasets` or `~/.keras/datasets`.
3. Debian's package folder (Fashion-MNIST only).
4. A download through `keras.datasets.<name>.load_data()` (in
   `_download`).

Each source lists its file layouts in a table below, in the order they are
tried. A layout counts as present when its file, or one of its folder's
expected files, exists. The first present layout is read. An error in it is
raised instead of falling through to the next source, because a user put
that file there.
"""

import dataclasses
import logging
import os

from labkit.data import _checksums, _cifar, _formats
from labkit.errors import DatasetFormatError, UnknownNameError

logger = logging.getLogger(__name__)

DATASETS = ("cifar10", "cifar100", "fashion_mnist", "mnist")
# Images in each dataset's published training set, and its classes, so that
# forms can check a training subset before any file is read.
TRAINING_SET_SIZES = {"cifar10": 50000, "cifar100": 50000, "fashion_mnist": 60000, "mnist": 60000}
CLASS_COUNTS = {"cifar10": 10, "cifar100": 100, "fashion_mnist": 10, "mnist": 10}

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MNIST_CLASSES = tuple(str(digit) for digit in range(10))
NUM_CLASSES = {"cifar10": 10, "cifar100": 100, "fashion_mnist": 10, "mnist": 10}

DATA_DIR_ENV = "LABKIT_DATA_DIR"

# Layout kinds.
CIFAR_ARCHIVE = "CIFAR archive"
CIFAR_FOLDER = "CIFAR folder"
IDX_FOLDER = "IDX files"
MNIST_NPZ = "mnist.npz"


@dataclasses.dataclass(frozen=True)
class Layout:
    """One way a dataset's files can lie in a source folder.

    Attributes:
        kind: `CIFAR_ARCHIVE`, `CIFAR_FOLDER`, `IDX_FOLDER` or `MNIST_NPZ`.
        relative_path: The file or folder, relative to the source folder;
            `"."` for the source folder itself.
    """

    kind: str
    relative_path: str

    def describe(self):
        """Return the layout as a user would look for it."""
        if self.kind == IDX_FOLDER and self.relative_path == ".":
            return "the IDX files"
        if self.kind == IDX_FOLDER:
            return f"the IDX files in {self.relative_path}/"
        if self.kind == CIFAR_FOLDER:
            return f"{self.relative_path}/"
        return self.relative_path


# Files a user may put into the data folder, per dataset.
DATA_DIR_LAYOUTS = {
    "cifar10": (
        Layout(CIFAR_FOLDER, "cifar-10-batches-py"),
        Layout(CIFAR_ARCHIVE, "cifar-10-python.tar.gz"),
    ),
    "cifar100": (
        Layout(CIFAR_FOLDER, "cifar-100-python"),
        Layout(CIFAR_ARCHIVE, "cifar-100-python.tar.gz"),
    ),
    # MNIST and Fashion-MNIST use the same IDX file names, so IDX files
    # directly in the data folder are told apart by their checksums (see
    # `_checksums`). NOTE: files with unknown checksums, such as a copy
    # recompressed by another tool, are read as whichever is requested.
    "fashion_mnist": (
        Layout(IDX_FOLDER, "fashion-mnist"),
        Layout(IDX_FOLDER, "."),
    ),
    "mnist": (
        Layout(MNIST_NPZ, "mnist.npz"),
        Layout(IDX_FOLDER, "mnist"),
        Layout(IDX_FOLDER, "."),
    ),
}

# Layouts that `keras.datasets.<name>.load_data()` leaves in the Keras cache,
# per dataset, newest Keras first. `get_file(fname, extract=True)` in Keras 3.15
# extracts into `fname` and keeps the archive as `fname + "_archive"`, or,
# for a name with a dot, into `<name before the dot>_extracted`. Keras 2
# (`untar=True`) kept `fname + ".tar.gz"` and extracted next to it.
KERAS_CACHE_LAYOUTS = {
    "cifar10": (
        # Keras 3.15: get_file("cifar-10-batches-py-target", extract=True).
        Layout(CIFAR_FOLDER, "cifar-10-batches-py-target/cifar-10-batches-py"),
        Layout(CIFAR_ARCHIVE, "cifar-10-batches-py-target_archive"),
        # Earlier Keras 3: get_file("cifar-10-batches-py", extract=True).
        Layout(CIFAR_FOLDER, "cifar-10-batches-py/cifar-10-batches-py"),
        Layout(CIFAR_ARCHIVE, "cifar-10-batches-py_archive"),
        # Keras 2 and tf.keras: get_file("cifar-10-batches-py", untar=True).
        Layout(CIFAR_FOLDER, "cifar-10-batches-py"),
        Layout(CIFAR_ARCHIVE, "cifar-10-batches-py.tar.gz"),
        # The archive as published, put there by hand or extracted by
        # get_file("cifar-10-python.tar.gz", extract=True).
        Layout(CIFAR_FOLDER, "cifar-10-python_extracted/cifar-10-batches-py"),
        Layout(CIFAR_ARCHIVE, "cifar-10-python.tar.gz"),
    ),
    "cifar100": (
        Layout(CIFAR_FOLDER, "cifar-100-python-target/cifar-100-python"),
        Layout(CIFAR_ARCHIVE, "cifar-100-python-target_archive"),
        Layout(CIFAR_FOLDER, "cifar-100-python/cifar-100-python"),
        Layout(CIFAR_ARCHIVE, "cifar-100-python_archive"),
        # Keras 2's archive name is also the published one.
        Layout(CIFAR_FOLDER, "cifar-100-python"),
        Layout(CIFAR_ARCHIVE, "cifar-100-python.tar.gz"),
        Layout(CIFAR_FOLDER, "cifar-100-python_extracted/cifar-100-python"),
    ),
    # Keras downloads the four IDX files into `datasets/fashion-mnist/`.
    "fashion_mnist": (Layout(IDX_FOLDER, "fashion-mnist"),),
    "mnist": (Layout(MNIST_NPZ, "mnist.npz"),),
}

# Folders of Debian packages, per dataset.
DEBIAN_FOLDERS = {
    "fashion_mnist": "/usr/share/datasets/fashion-mnist",
}
DEBIAN_PACKAGES = {"fashion_mnist": "dataset-fashion-mnist"}

_CIFAR_PAGE = "https://www.cs.toronto.edu/~kriz/cifar.html"
_FILES_TO_PUT = {
    "cifar10": f"cifar-10-python.tar.gz (from {_CIFAR_PAGE})",
    "cifar100": f"cifar-100-python.tar.gz (from {_CIFAR_PAGE})",
    "fashion_mnist": (
        "train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, "
        "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz (from "
        "https://github.com/zalandoresearch/fashion-mnist)"
    ),
    "mnist": (
        "mnist.npz (from https://storage.googleapis.com/tensorflow/"
        "tf-keras-datasets/mnist.npz)"
    ),
}
# The subfolder of the Keras cache that the files go into, if any.
_KERAS_CACHE_SUBFOLDER = {"fashion_mnist": "fashion-mnist"}


@dataclasses.dataclass(frozen=True)
class Source:
    """A folder to look in and the layouts to look for there.

    Attributes:
        kind: `"data_dir"`, `"keras_cache"` or `"debian"`, as stored in
            the dataset metadata.
        folder: The folder, with `~` expanded.
        description: Where the folder comes from, for messages.
        layouts: The layouts to look for, in order.
    """

    kind: str
    folder: str
    description: str
    layouts: tuple


@dataclasses.dataclass(frozen=True)
class Found:
    """The first present layout: where it is and how to read it."""

    source: Source
    layout: Layout
    path: str


def check_name(name):
    """Raise `UnknownNameError` unless `name` is in `DATASETS`."""
    if name not in DATASETS:
        raise UnknownNameError(
            f"Unknown dataset {name!r}. Known datasets: "
            f"{', '.join(DATASETS)}."
        )


def class_names(name):
    """Return the class names of a dataset whose files lack them."""
    return FASHION_MNIST_CLASSES if name == "fashion_mnist" else MNIST_CLASSES


def keras_cache_folders():
    """Return the folders where Keras keeps downloaded datasets.

    Keras 3.15 uses `$KERAS_HOME/datasets` if `KERAS_HOME` is set, else
    `~/.keras/datasets`. When that base folder is not writable, or does not
    exist, `keras.utils.get_file` writes to `/tmp/.keras/datasets` instead,
    so that folder is searched too. The environment is read at each call,
    whereas Keras reads `KERAS_HOME` once, on import.
    """
    base = os.environ.get("KERAS_HOME") or os.path.join(
        os.path.expanduser("~"), ".keras"
    )
    base = os.path.abspath(os.path.expanduser(base))
    folders = [os.path.join(base, "datasets")]
    if not os.access(base, os.W_OK):
        folders.append(os.path.join("/tmp", ".keras", "datasets"))
    return folders


def sources(name, data_dir=None):
    """Return the sources of a dataset in the order they are tried.

    Args:
        name: A name from `DATASETS`.
        data_dir: The data folder; `None` uses `LABKIT_DATA_DIR` if set.

    Returns:
        A list of `Source`. The data folder is left out when neither
        `data_dir` nor `LABKIT_DATA_DIR` is set.
    """
    ordered = []
    if data_dir is not None:
        ordered.append(
            Source(
                "data_dir",
                os.path.abspath(os.path.expanduser(os.fspath(data_dir))),
                "data folder (the data_dir argument)",
                DATA_DIR_LAYOUTS[name],
            )
        )
    elif os.environ.get(DATA_DIR_ENV):
        ordered.append(
            Source(
                "data_dir",
                os.path.abspath(os.path.expanduser(os.environ[DATA_DIR_ENV])),
                f"data folder (${DATA_DIR_ENV})",
                DATA_DIR_LAYOUTS[name],
            )
        )
    for folder in keras_cache_folders():
        ordered.append(
            Source(
                "keras_cache",
                folder,
                "Keras cache",
                KERAS_CACHE_LAYOUTS[name],
            )
        )
    if name in DEBIAN_FOLDERS:
        ordered.append(
            Source(
                "debian",
                DEBIAN_FOLDERS[name],
                f"Debian package {DEBIAN_PACKAGES[name]}",
                (Layout(IDX_FOLDER, "."),),
            )
        )
    return ordered


def is_present(layout, path, name):
    """Return whether a layout is there, looking only at file names."""
    if layout.kind in (CIFAR_ARCHIVE, MNIST_NPZ):
        return os.path.isfile(path)
    if not os.path.isdir(path):
        return False
    if layout.kind == CIFAR_FOLDER:
        expected = (
            _cifar.CIFAR10_FILES
            if name == "cifar10"
            else _cifar.CIFAR100_FILES
        )
        return any(
            os.path.isfile(os.path.join(path, file)) for file in expected
        )
    return any(
        _formats.find_idx_file(path, stem) is not None
        for stem in _formats.IDX_FILES.values()
    )


def other_dataset_files(layout, path, name):
    """Return a line on IDX files that belong to another dataset, or `None`.

    Only the label files are hashed: they are 30 kB compressed, so this is
    cheap enough for `locate()`. `read()` checks all four files.
    """
    if layout.kind != IDX_FOLDER:
        return None
    for key in ("train_labels", "test_labels"):
        file = _formats.find_idx_file(path, _formats.IDX_FILES[key])
        known = None if file is None else _checksums.identify_file(file)
        if known is not None and known.dataset != name:
            return (
                f"the IDX files in {path} are {known.dataset}, not {name} "
                f"({file}: {_checksums.describe(known)})"
            )
    return None


def find(name, data_dir=None):
    """Find the first present layout of a dataset, without reading it.

    IDX files that their checksums mark as the other MNIST are skipped, with
    a line in `misses`.

    Returns:
        A tuple `(found, misses)`: the `Found` or `None`, and one line per
        source that had nothing, saying where it looked and why it failed.
    """
    misses = []
    if data_dir is None and not os.environ.get(DATA_DIR_ENV):
        misses.append(
            f"data folder: not set (pass data_dir or set ${DATA_DIR_ENV})"
        )
    for source in sources(name, data_dir):
        if not os.path.isdir(source.folder):
            reason = "the folder does not exist"
            if source.kind == "debian":
                package = DEBIAN_PACKAGES[name]
                reason += f" (apt-get install {package} creates it)"
            misses.append(f"{source.description} {source.folder}: {reason}")
            continue
        rejected = []
        for layout in source.layouts:
            path = os.path.normpath(
                os.path.join(source.folder, layout.relative_path)
            )
            if not is_present(layout, path, name):
                continue
            other = other_dataset_files(layout, path, name)
            if other is None:
                return Found(source, layout, path), misses
            rejected.append(f"{source.description} {source.folder}: {other}")
        if rejected:
            misses.extend(rejected)
            continue
        looked_for = ", ".join(layout.describe() for layout in source.layouts)
        misses.append(
            f"{source.description} {source.folder}: none of {looked_for} "
            "found"
        )
    return None, misses


def read(name, layout, path):
    """Read a present layout into `RawData`.

    Raises:
        DatasetFormatError: If a file is truncated or corrupt, a CIFAR
            file contains the other CIFAR dataset, or an IDX file's checksum
            marks it as the other MNIST.
    """
    if layout.kind == CIFAR_ARCHIVE:
        raw = _cifar.read_cifar_archive(path)
    elif layout.kind == CIFAR_FOLDER:
        raw = _cifar.read_cifar_folder(path)
    elif layout.kind == IDX_FOLDER:
        raw = _formats.read_idx_folder(path, class_names(name), name)
    else:
        raw = _formats.read_mnist_npz(path, class_names(name))
    if raw.variant is not None and raw.variant != name:
        raise DatasetFormatError(
            f"{path} contains {raw.variant}, not {name}. Put the {name} files "
            "there, or request the dataset the files hold."
        )
    return raw


def fix_hint(name):
    """Return what to do to make a dataset available offline."""
    cache = keras_cache_folders()[0]
    subfolder = _KERAS_CACHE_SUBFOLDER.get(name)
    if subfolder:
        cache = os.path.join(cache, subfolder)
    hint = (
        f"put {_FILES_TO_PUT[name]} into {cache} or into a folder named by "
        f"{DATA_DIR_ENV} (or passed as data_dir)"
    )
    if name in DEBIAN_PACKAGES:
        hint += f", or run `apt-get install {DEBIAN_PACKAGES[name]}`"
    return hint
