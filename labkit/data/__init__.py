"""Image datasets for optimizer comparisons: CIFAR-10/100, (Fashion-)MNIST.

`load_dataset()` finds the files offline or downloads them, reads them
without Keras, scales the images to `float32` in `[0, 1]` (channels last)
and draws the training subset and validation split. `locate()` returns,
without reading anything, where a dataset would be found offline.

Example:

```python
from labkit.data import load_dataset

data = load_dataset("cifar10", train_size=5000, validation=0.1, seed=0)
data.x_train.shape  # (4500, 32, 32, 3)
data.metadata["source"]  # "keras_cache"
```
"""

from labkit.data import _sources
from labkit.data._dataset import Dataset, load_dataset
from labkit.data._cifar import read_cifar
from labkit.data._download import OFFLINE_ENV, offline_from_environment
from labkit.data._sources import CLASS_COUNTS, DATASETS, TRAINING_SET_SIZES

__all__ = [
    "CLASS_COUNTS",
    "DATASETS",
    "TRAINING_SET_SIZES",
    "OFFLINE_ENV",
    "Dataset",
    "load_dataset",
    "locate",
    "offline_from_environment",
    "read_cifar",
]


def locate(name, *, data_dir=None):
    """Return where a dataset's files would be found offline, or `None`.

    Mostly file names are checked, so this is fast enough to call for every
    dataset when drawing a user interface. The only files read are the two
    small IDX label files, whose checksums tell MNIST from Fashion-MNIST: a
    folder of the other one's files is not returned. Other files are neither
    read nor hashed, so a damaged file is reported only by `load_dataset()`.

    The places and names looked for, in order:

    - The data folder (`data_dir`, else `LABKIT_DATA_DIR`):
      `cifar-10-batches-py/` or `cifar-10-python.tar.gz`,
      `cifar-100-python/` or `cifar-100-python.tar.gz`, `mnist.npz`, and
      the four IDX files (`train-images-idx3-ubyte.gz` and so on, also
      uncompressed) in `fashion-mnist/`, `mnist/` or the folder itself.
    - The Keras cache (`$KERAS_HOME/datasets` or `~/.keras/datasets`),
      with the names that Keras 2 and 3 leave there.
    - `/usr/share/datasets/fashion-mnist` from the Debian package
      `dataset-fashion-mnist` (Fashion-MNIST only).

    Args:
        name: One of `DATASETS`.
        data_dir: The data folder. Defaults to `LABKIT_DATA_DIR`.

    Returns:
        The path of the file or folder that `load_dataset()` would read,
        or `None` if it would have to download.

    Raises:
        UnknownNameError: If `name` is not in `DATASETS`.
    """
    _sources.check_name(name)
    found, _ = _sources.find(name, data_dir)
    return None if found is None else found.path
