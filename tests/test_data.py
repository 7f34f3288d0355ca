"""Tests of labkit.data on small files written in the real formats.

Every test runs with HOME and KERAS_HOME in a temporary folder, the data
folder variable unset and every `keras.datasets.<name>.load_data` replaced by
a function that raises, so no test reads a real cache or downloads.
"""

import gzip
import hashlib
import io
import json
import os
import pickle
import socket
import struct
import tarfile
import time

import keras
import numpy as np
import pytest

from labkit.data import DATASETS, load_dataset, locate, read_cifar
from labkit.data import _download, _sources, _splits
from labkit.errors import (
    ConfigError,
    DatasetFormatError,
    DatasetUnavailableError,
    UnknownNameError,
)

DEBIAN_FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog",
                 "frog", "horse", "ship", "truck")


def _network_disabled(*args, **kwargs):
    raise OSError("network disabled in tests")


@pytest.fixture(autouse=True)
def keras_cache(tmp_path, monkeypatch):
    """Isolate the test from the real caches; return the Keras cache folder."""
    home = tmp_path / "home"
    home.mkdir()
    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("KERAS_HOME", str(keras_home))
    monkeypatch.delenv("LABKIT_DATA_DIR", raising=False)
    monkeypatch.delenv("LABKIT_OFFLINE", raising=False)
    for name in DATASETS:
        module = getattr(keras.datasets, name)
        monkeypatch.setattr(module, "load_data", _network_disabled)
    return keras_home / "datasets"


@pytest.fixture
def no_debian(tmp_path, monkeypatch):
    """Point the Debian source at a folder that does not exist."""
    missing = str(tmp_path / "no-debian" / "fashion-mnist")
    monkeypatch.setitem(_sources.DEBIAN_FOLDERS, "fashion_mnist", missing)
    return missing


# ------------------------------------------------------------ writers


def _cifar_rows(images):
    """Encode HWC uint8 images as CIFAR rows: R plane, G plane, B plane."""
    return images.transpose(0, 3, 1, 2).reshape(len(images), 3072)


def _dump(path, content):
    # Protocol 2, like the published CIFAR files (written by Python 2).
    path.write_bytes(pickle.dumps(content, protocol=2))


def write_cifar10_folder(folder, per_batch=4, test_size=6, seed=0):
    """Write a small CIFAR-10 folder; return its images and labels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    _dump(
        folder / "batches.meta",
        {b"label_names": [name.encode() for name in CIFAR10_NAMES],
         b"num_cases_per_batch": per_batch, b"num_vis": 3072},
    )
    splits = {}
    batches = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for batch in batches:
        size = test_size if batch == "test_batch" else per_batch
        images = rng.integers(0, 256, (size, 32, 32, 3), dtype=np.uint8)
        labels = [int(label) for label in rng.integers(0, 10, size)]
        _dump(
            folder / batch,
            {b"batch_label": batch.encode(), b"labels": labels,
             b"data": _cifar_rows(images),
             b"filenames": [b"img.png"] * size},
        )
        splits[batch] = (images, np.array(labels))
    train_batches = [splits[f"data_batch_{i}"] for i in range(1, 6)]
    x_train = np.concatenate([images for images, _ in train_batches])
    y_train = np.concatenate([labels for _, labels in train_batches])
    return x_train, y_train, *splits["test_batch"]


def write_cifar100_folder(folder, train_size=200, test_size=100, seed=0):
    """Write a small CIFAR-100 folder; return its images and fine labels."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    _dump(
        folder / "meta",
        {b"fine_label_names": [f"fine{i}".encode() for i in range(100)],
         b"coarse_label_names": [f"coarse{i}".encode() for i in range(20)]},
    )
    arrays = []
    for name, size in (("train", train_size), ("test", test_size)):
        images = rng.integers(0, 256, (size, 32, 32, 3), dtype=np.uint8)
        fine = np.arange(size) % 100
        _dump(
            folder / name,
            {b"batch_label": name.encode(), b"fine_labels": fine.tolist(),
             b"coarse_labels": (fine % 20).tolist(),
             b"data": _cifar_rows(images)},
        )
        arrays += [images, fine]
    return tuple(arrays)


def write_archive(folder, archive):
    """Pack a CIFAR folder into a .tar.gz the way the published one is."""
    archive.parent.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(folder, arcname=folder.name)
    return archive


def write_idx(path, array, compress=True):
    header = bytes((0, 0, 8, array.ndim)) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    data = header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()
    path.write_bytes(gzip.compress(data) if compress else data)


def write_idx_folder(folder, train_size=30, test_size=10, compress=True,
                     seed=0):
    """Write the four MNIST-style IDX files; return the arrays written."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    arrays = {}
    for prefix, size in (("train", train_size), ("t10k", test_size)):
        images = rng.integers(0, 256, (size, 28, 28), dtype=np.uint8)
        labels = (np.arange(size) % 10).astype(np.uint8)
        write_idx(folder / f"{prefix}-images-idx3-ubyte{suffix}", images,
                  compress)
        write_idx(folder / f"{prefix}-labels-idx1-ubyte{suffix}", labels,
                  compress)
        arrays[prefix] = (images, labels)
    return arrays


def write_mnist_npz(path, train_size=30, test_size=10, **overrides):
    rng = np.random.default_rng(0)
    arrays = {
        "x_train": rng.integers(0, 256, (train_size, 28, 28), dtype=np.uint8),
        "y_train": np.arange(train_size) % 10,
        "x_test": rng.integers(0, 256, (test_size, 28, 28), dtype=np.uint8),
        "y_test": np.arange(test_size) % 10,
    }
    arrays.update(overrides)
    arrays = {key: value for key, value in arrays.items() if value is not None}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez(path, **arrays)
    return arrays


def snapshot(folder):
    """Map every file under `folder` to its SHA-256."""
    return {
        str(path): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file()
    }


# ------------------------------------------------------------ CIFAR format


def test_read_cifar10_folder_and_archive_agree(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    x_train, y_train, x_test, y_test = write_cifar10_folder(folder)
    archive = write_archive(folder, tmp_path / "cifar-10-python.tar.gz")

    for path in (folder, archive):
        got = read_cifar(path)
        assert got[0].dtype == np.uint8
        assert got[0].shape == (20, 32, 32, 3)
        np.testing.assert_array_equal(got[0], x_train)
        np.testing.assert_array_equal(got[1], y_train)
        assert got[1].dtype == np.int64
        np.testing.assert_array_equal(got[2], x_test)
        np.testing.assert_array_equal(got[3], y_test)
        assert got[4] == CIFAR10_NAMES


def test_read_cifar_pixel_layout(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    write_cifar10_folder(folder)
    # Rewrite the first batch by hand: image 0 gets red 10, green 20 and
    # blue 30 at row 1, column 2, and 255 at row 31, column 0 in blue.
    rows = np.zeros((4, 3072), dtype=np.uint8)
    rows[0, 0 * 1024 + 1 * 32 + 2] = 10
    rows[0, 1 * 1024 + 1 * 32 + 2] = 20
    rows[0, 2 * 1024 + 1 * 32 + 2] = 30
    rows[0, 2 * 1024 + 31 * 32 + 0] = 255
    _dump(folder / "data_batch_1",
          {b"labels": [0, 1, 2, 3], b"data": rows})

    x_train = read_cifar(folder)[0]

    assert x_train[0, 1, 2].tolist() == [10, 20, 30]
    assert x_train[0, 31, 0].tolist() == [0, 0, 255]
    assert x_train[0, 2, 1].tolist() == [0, 0, 0]
    assert int(x_train[0].sum()) == 10 + 20 + 30 + 255


def test_read_cifar100_uses_fine_labels(tmp_path):
    folder = tmp_path / "cifar-100-python"
    x_train, y_train, x_test, y_test = write_cifar100_folder(folder)
    archive = write_archive(folder, tmp_path / "cifar-100-python.tar.gz")

    for path in (folder, archive):
        got = read_cifar(path)
        np.testing.assert_array_equal(got[0], x_train)
        np.testing.assert_array_equal(got[1], y_train)
        np.testing.assert_array_equal(got[3], y_test)
        assert len(got[4]) == 100
        assert got[4][7] == "fine7"


def test_read_cifar_missing_path_raises(tmp_path):
    with pytest.raises(FileNotFoundError, match="No CIFAR archive or folder"):
        read_cifar(tmp_path / "nothing-here")


# ------------------------------------------------------------ load_dataset


def test_load_cifar10_scales_and_types(tmp_path):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    x_train, y_train, x_test, y_test = write_cifar10_folder(folder)

    data = load_dataset("cifar10", data_dir=tmp_path / "data")

    assert data.x_train.dtype == np.float32
    assert data.x_test.dtype == np.float32
    assert data.y_train.dtype == np.int64
    assert data.y_test.dtype == np.int64
    np.testing.assert_allclose(data.x_train, x_train / 255.0, rtol=1e-6)
    np.testing.assert_allclose(data.x_test, x_test / 255.0, rtol=1e-6)
    assert float(data.x_train.min()) == 0.0
    assert float(data.x_train.max()) == 1.0
    np.testing.assert_array_equal(data.y_train, y_train)
    assert data.x_val is None
    assert data.y_val is None
    assert data.input_shape == (32, 32, 3)
    assert data.num_classes == 10
    assert data.class_names == CIFAR10_NAMES


def test_load_metadata_is_json_and_hashes_files(tmp_path):
    folder = tmp_path / "data" / "cifar-10-batches-py"
    write_cifar10_folder(folder)
    archive = write_archive(
        folder, tmp_path / "archive" / "cifar-10-python.tar.gz"
    )

    from_folder = load_dataset("cifar10", data_dir=tmp_path / "data")
    from_archive = load_dataset("cifar10", data_dir=tmp_path / "archive")

    metadata = json.loads(json.dumps(from_folder.metadata))
    assert metadata["source"] == "data_dir"
    assert metadata["location"] == str(folder)
    assert metadata["seed"] == 0
    assert metadata["train_size"] is None
    assert metadata["validation"] is None
    assert metadata["sizes"] == {"train": 20, "validation": 0, "test": 6}
    assert len(metadata["files"]) == 7
    batch = folder / "data_batch_1"
    record = next(f for f in metadata["files"] if f["path"] == str(batch))
    assert record["sha256"] == hashlib.sha256(batch.read_bytes()).hexdigest()
    assert record["bytes"] == batch.stat().st_size
    assert from_archive.metadata["files"] == [{
        "path": str(archive),
        "sha256": hashlib.sha256(archive.read_bytes()).hexdigest(),
        "bytes": archive.stat().st_size,
    }]


def test_load_cifar100_from_archive(tmp_path):
    folder = tmp_path / "build" / "cifar-100-python"
    _, y_train, _, _ = write_cifar100_folder(folder)
    write_archive(folder, tmp_path / "data" / "cifar-100-python.tar.gz")

    data = load_dataset("cifar100", data_dir=tmp_path / "data")

    assert data.num_classes == 100
    assert data.x_train.shape == (200, 32, 32, 3)
    np.testing.assert_array_equal(data.y_train, y_train)


@pytest.mark.parametrize("compress", [True, False])
@pytest.mark.parametrize("subfolder", ["", "fashion-mnist"])
def test_load_fashion_mnist_idx_files(tmp_path, compress, subfolder):
    arrays = write_idx_folder(tmp_path / "data" / subfolder, compress=compress)

    data = load_dataset("fashion_mnist", data_dir=tmp_path / "data")

    assert data.x_train.shape == (30, 28, 28, 1)
    assert data.x_test.shape == (10, 28, 28, 1)
    np.testing.assert_allclose(
        data.x_train[..., 0], arrays["train"][0] / 255.0, rtol=1e-6
    )
    np.testing.assert_array_equal(data.y_test, arrays["t10k"][1])
    assert data.class_names[0] == "T-shirt/top"
    assert data.class_names[9] == "Ankle boot"
    assert len(data.metadata["files"]) == 4


def test_load_mnist_npz_and_idx(tmp_path):
    arrays = write_mnist_npz(tmp_path / "npz" / "mnist.npz")
    write_idx_folder(tmp_path / "idx" / "mnist")

    from_npz = load_dataset("mnist", data_dir=tmp_path / "npz")
    from_idx = load_dataset("mnist", data_dir=tmp_path / "idx")

    assert from_npz.x_train.shape == (30, 28, 28, 1)
    np.testing.assert_array_equal(from_npz.y_train, arrays["y_train"])
    assert from_npz.class_names == tuple("0123456789")
    assert from_npz.metadata["format"] == "mnist.npz"
    assert from_idx.metadata["format"] == "IDX files"
    assert from_idx.x_test.shape == (10, 28, 28, 1)


def test_load_debian_fashion_mnist():
    if not os.path.isdir(DEBIAN_FASHION_MNIST):
        pytest.skip(
            f"{DEBIAN_FASHION_MNIST} is missing; apt-get install "
            "dataset-fashion-mnist provides it"
        )
    started = time.perf_counter()
    data = load_dataset("fashion_mnist", download=False)
    elapsed_s = time.perf_counter() - started

    assert data.x_train.shape == (60000, 28, 28, 1)
    assert data.x_test.shape == (10000, 28, 28, 1)
    assert data.y_train.shape == (60000,)
    assert data.class_names == (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal",
        "Shirt", "Sneaker", "Bag", "Ankle boot",
    )
    assert np.bincount(data.y_train).tolist() == [6000] * 10
    assert data.metadata["source"] == "debian"
    assert len(data.metadata["files"]) == 4
    assert all(len(f["sha256"]) == 64 for f in data.metadata["files"])
    # Reading, hashing and scaling took 0.7 s on a 2-core CI machine.
    assert elapsed_s < 10


# ------------------------------------------------------------ sources


def test_source_order_data_dir_cache_debian(tmp_path, keras_cache,
                                            monkeypatch):
    debian = tmp_path / "debian"
    write_idx_folder(debian, train_size=10)
    monkeypatch.setitem(_sources.DEBIAN_FOLDERS, "fashion_mnist", str(debian))
    assert load_dataset("fashion_mnist").metadata["source"] == "debian"

    write_idx_folder(keras_cache / "fashion-mnist", train_size=20)
    data = load_dataset("fashion_mnist")
    assert data.metadata["source"] == "keras_cache"
    assert len(data.x_train) == 20

    write_idx_folder(tmp_path / "data", train_size=40)
    data = load_dataset("fashion_mnist", data_dir=tmp_path / "data")
    assert data.metadata["source"] == "data_dir"
    assert len(data.x_train) == 40

    monkeypatch.setenv("LABKIT_DATA_DIR", str(tmp_path / "data"))
    assert load_dataset("fashion_mnist").metadata["source"] == "data_dir"
    assert locate("fashion_mnist") == str(tmp_path / "data")


def test_keras_cache_under_home_without_keras_home(tmp_path, monkeypatch):
    monkeypatch.delenv("KERAS_HOME")
    cache = tmp_path / "home" / ".keras" / "datasets"
    write_mnist_npz(cache / "mnist.npz")

    assert locate("mnist") == str(cache / "mnist.npz")
    assert load_dataset("mnist").metadata["source"] == "keras_cache"


@pytest.mark.parametrize(
    "layout",
    [
        # Keras 3.15 keras.datasets.cifar10.load_data().
        "cifar-10-batches-py-target/cifar-10-batches-py",
        "cifar-10-batches-py-target_archive",
        # Earlier Keras 3 releases.
        "cifar-10-batches-py/cifar-10-batches-py",
        # Keras 2 and tf.keras.
        "cifar-10-batches-py",
        "cifar-10-batches-py.tar.gz",
        # The published archive, put there by hand.
        "cifar-10-python.tar.gz",
    ],
)
def test_keras_cache_cifar10_layouts(tmp_path, keras_cache, layout):
    folder = tmp_path / "build" / "cifar-10-batches-py"
    _, y_train, _, _ = write_cifar10_folder(folder)
    target = keras_cache / layout
    if layout.endswith("cifar-10-batches-py"):
        write_cifar10_folder(target)
    else:
        write_archive(folder, target)

    assert locate("cifar10") == str(target)
    data = load_dataset("cifar10")
    assert data.metadata["source"] == "keras_cache"
    np.testing.assert_array_equal(data.y_train, y_train)


def test_locate_returns_none_when_missing(tmp_path, no_debian):
    for name in DATASETS:
        assert locate(name) is None
        assert locate(name, data_dir=tmp_path / "missing") is None


def test_unknown_name_lists_known_names():
    expected = "Unknown dataset 'svhn'. Known datasets: cifar10, cifar100"
    with pytest.raises(UnknownNameError, match=expected):
        load_dataset("svhn")
    with pytest.raises(UnknownNameError, match=expected):
        locate("svhn")


def test_unavailable_error_lists_places_and_fix(tmp_path, keras_cache):
    started = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset("cifar10", data_dir=tmp_path / "data")
    elapsed_s = time.perf_counter() - started
    message = str(caught.value)

    assert elapsed_s < 5
    assert "Dataset 'cifar10' is not available." in message
    assert (
        f"1. data folder (the data_dir argument) {tmp_path / 'data'}: "
        "the folder does not exist"
    ) in message
    assert f"2. Keras cache {keras_cache}: the folder does not exist" in message
    assert (
        "3. download with keras.datasets.cifar10.load_data(): failed: "
        "OSError: network disabled in tests"
    ) in message
    assert (
        "To fix this, put cifar-10-python.tar.gz (from "
        "https://www.cs.toronto.edu/~kriz/cifar.html) into "
        f"{keras_cache} or into a folder named by LABKIT_DATA_DIR"
    ) in message


def test_unavailable_error_names_layouts_looked_for(keras_cache):
    keras_cache.mkdir()
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset("cifar100", download=False)
    message = str(caught.value)

    assert "1. data folder: not set" in message
    assert (
        f"Keras cache {keras_cache}: none of "
        "cifar-100-python-target/cifar-100-python/, "
        "cifar-100-python-target_archive"
    ) in message
    assert "download with keras.datasets.cifar100.load_data(): " \
        "skipped (download=False)" in message


def test_unavailable_fashion_mnist_mentions_apt(no_debian, monkeypatch):
    monkeypatch.setenv("LABKIT_OFFLINE", "1")
    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset("fashion_mnist")
    message = str(caught.value)

    assert f"Debian package dataset-fashion-mnist {no_debian}" in message
    assert "skipped ($LABKIT_OFFLINE=1)" in message
    assert "apt-get install dataset-fashion-mnist" in message
    assert "t10k-labels-idx1-ubyte.gz" in message


def test_download_reads_keras_cache_with_timeout(keras_cache, monkeypatch,
                                                 no_debian):
    timeouts = []

    def fake_load_data():
        # Behave like Keras: leave the files in the cache, return arrays.
        timeouts.append(socket.getdefaulttimeout())
        arrays = write_idx_folder(keras_cache / "fashion-mnist")
        return arrays["train"], arrays["t10k"]

    monkeypatch.setattr(keras.datasets.fashion_mnist, "load_data",
                        fake_load_data)
    previous = socket.getdefaulttimeout()

    data = load_dataset("fashion_mnist")

    assert timeouts == [_download.DOWNLOAD_SOCKET_TIMEOUT_S]
    assert socket.getdefaulttimeout() == previous
    assert data.metadata["source"] == "download"
    assert data.metadata["location"] == str(keras_cache / "fashion-mnist")
    assert len(data.metadata["files"]) == 4


def test_download_uses_arrays_without_files(monkeypatch):
    rng = np.random.default_rng(0)
    # Channels first, as Keras returns CIFAR with image_data_format
    # "channels_first", and labels of shape (N, 1).
    x_train = rng.integers(0, 256, (20, 3, 32, 32), dtype=np.uint8)
    x_test = rng.integers(0, 256, (10, 3, 32, 32), dtype=np.uint8)
    y_train = (np.arange(20) % 10).reshape(-1, 1).astype(np.uint8)
    y_test = (np.arange(10) % 10).reshape(-1, 1).astype(np.uint8)
    monkeypatch.setattr(keras.datasets.cifar10, "load_data",
                        lambda: ((x_train, y_train), (x_test, y_test)))

    data = load_dataset("cifar10")

    assert data.metadata["source"] == "download"
    assert data.metadata["files"] == []
    assert data.metadata["location"] is None
    assert data.x_train.shape == (20, 32, 32, 3)
    np.testing.assert_allclose(
        data.x_train, x_train.transpose(0, 2, 3, 1) / 255.0, rtol=1e-6
    )
    assert data.y_train.shape == (20,)
    assert data.class_names == tuple(str(label) for label in range(10))


def test_download_timeout_restored_after_failure(keras_cache):
    previous = socket.getdefaulttimeout()
    with pytest.raises(DatasetUnavailableError):
        load_dataset("mnist")
    assert socket.getdefaulttimeout() == previous


# ------------------------------------------------------------ damaged files


def _truncate(path, keep):
    path.write_bytes(path.read_bytes()[:keep])


def _damage_tar(data_dir):
    folder = data_dir.parent / "build" / "cifar-10-batches-py"
    write_cifar10_folder(folder)
    archive = write_archive(folder, data_dir / "cifar-10-python.tar.gz")
    _truncate(archive, archive.stat().st_size // 2)
    return "cifar10", archive, "not a readable tar archive"


def _damage_gzip(data_dir):
    write_idx_folder(data_dir)
    path = data_dir / "train-images-idx3-ubyte.gz"
    path.write_bytes(b"\x1f\x8b" + b"not deflate data" * 10)
    return "fashion_mnist", path, "truncated or corrupt gzip file"


def _truncate_gzip(data_dir):
    write_idx_folder(data_dir)
    path = data_dir / "train-images-idx3-ubyte.gz"
    _truncate(path, path.stat().st_size - 100)
    return "fashion_mnist", path, "truncated or corrupt gzip file"


def _short_idx(data_dir):
    write_idx_folder(data_dir, compress=False)
    path = data_dir / "t10k-images-idx3-ubyte"
    _truncate(path, 16 + 28 * 28 * 3)
    return "fashion_mnist", path, "is truncated: 2368 bytes"


def _wrong_idx_magic(data_dir):
    write_idx_folder(data_dir, compress=False)
    path = data_dir / "train-labels-idx1-ubyte"
    data = bytearray(path.read_bytes())
    data[3] = 3
    path.write_bytes(bytes(data))
    return "mnist", path, "magic number 0x00000803, expected 0x00000801"


def _not_gzip(data_dir):
    write_idx_folder(data_dir)
    path = data_dir / "t10k-labels-idx1-ubyte.gz"
    path.write_bytes(b"plain text, not gzip")
    return "fashion_mnist", path, "is not a gzip file"


def _wrong_batch_shape(data_dir):
    folder = data_dir / "cifar-10-batches-py"
    write_cifar10_folder(folder)
    path = folder / "data_batch_3"
    _dump(path, {b"labels": [0, 1], b"data": np.zeros((2, 1024), np.uint8)})
    return "cifar10", path, r"shape \(2, 1024\), expected \(N, 3072\)"


def _not_a_pickle(data_dir):
    folder = data_dir / "cifar-100-python"
    write_cifar100_folder(folder)
    path = folder / "test"
    _truncate(path, 50)
    return "cifar100", path, "not a valid CIFAR pickle"


def _missing_batch(data_dir):
    folder = data_dir / "cifar-10-batches-py"
    write_cifar10_folder(folder)
    (folder / "data_batch_5").unlink()
    return "cifar10", folder, "data_batch_5 missing"


def _npz_missing_key(data_dir):
    path = data_dir / "mnist.npz"
    write_mnist_npz(path, y_test=None)
    return "mnist", path, "lacks the array\\(s\\) y_test"


def _npz_truncated(data_dir):
    path = data_dir / "mnist.npz"
    write_mnist_npz(path)
    _truncate(path, 300)
    return "mnist", path, "not a readable .npz file"


def _idx_count_mismatch(data_dir):
    write_idx_folder(data_dir)
    write_idx(data_dir / "train-labels-idx1-ubyte.gz",
              np.zeros(29, np.uint8))
    return "mnist", data_dir / "train-images-idx3-ubyte.gz", \
        "has 30 images but .* has 29 labels"


def _label_out_of_range(data_dir):
    write_idx_folder(data_dir)
    write_idx(data_dir / "t10k-labels-idx1-ubyte.gz",
              np.full(10, 12, np.uint8))
    return "fashion_mnist", data_dir / "t10k-labels-idx1-ubyte.gz", \
        "labels from 12 to 12, outside the 10 classes"


def _cifar100_named_as_cifar10(data_dir):
    folder = data_dir.parent / "build" / "cifar-100-python"
    write_cifar100_folder(folder)
    path = write_archive(folder, data_dir / "cifar-10-python.tar.gz")
    return "cifar10", path, "contains cifar100, not cifar10"


def _unsafe_pickle(data_dir):
    folder = data_dir / "cifar-10-batches-py"
    write_cifar10_folder(folder)
    path = folder / "batches.meta"
    # A pickle that would call os.system if it were unpickled freely.
    path.write_bytes(b"cos\nsystem\n(S'echo unsafe'\ntR.")
    return "cifar10", path, "refers to os.system"


DAMAGES = [
    _damage_tar, _damage_gzip, _truncate_gzip, _short_idx, _wrong_idx_magic,
    _not_gzip, _wrong_batch_shape, _not_a_pickle, _missing_batch,
    _npz_missing_key, _npz_truncated, _idx_count_mismatch,
    _label_out_of_range, _cifar100_named_as_cifar10, _unsafe_pickle,
]


@pytest.mark.parametrize("damage", DAMAGES, ids=lambda f: f.__name__[1:])
def test_damaged_file_raises_format_error(tmp_path, damage):
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    name, path, expected = damage(data_dir)
    before = snapshot(tmp_path)

    with pytest.raises(DatasetFormatError, match=expected) as caught:
        load_dataset(name, data_dir=data_dir)

    assert str(path) in str(caught.value)
    assert snapshot(tmp_path) == before


def test_damaged_data_dir_stops_search(tmp_path, keras_cache):
    write_mnist_npz(keras_cache / "mnist.npz")
    data_dir = tmp_path / "data"
    write_mnist_npz(data_dir / "mnist.npz", y_train=None)

    with pytest.raises(DatasetFormatError, match="lacks the array"):
        load_dataset("mnist", data_dir=data_dir)


# ------------------------------------------------------------ options


@pytest.fixture
def cifar100_dir(tmp_path):
    write_cifar100_folder(tmp_path / "data" / "cifar-100-python",
                          train_size=500)
    return tmp_path / "data"


def test_train_size_is_stratified(cifar100_dir):
    data = load_dataset("cifar100", data_dir=cifar100_dir, train_size=250)

    counts = np.bincount(data.y_train, minlength=100)
    assert len(data.x_train) == 250
    assert counts.min() >= 2
    assert counts.max() - counts.min() <= 1
    assert data.metadata["train_size"] == 250


def test_train_size_fixed_by_seed(cifar100_dir):
    first = load_dataset("cifar100", data_dir=cifar100_dir, train_size=150,
                         seed=1)
    again = load_dataset("cifar100", data_dir=cifar100_dir, train_size=150,
                         seed=1)
    other = load_dataset("cifar100", data_dir=cifar100_dir, train_size=150,
                         seed=2)

    np.testing.assert_array_equal(first.x_train, again.x_train)
    assert not np.array_equal(first.x_train, other.x_train)


@pytest.mark.parametrize("train_size", [99, 501])
def test_train_size_out_of_range(cifar100_dir, train_size):
    expected = (
        r"train_size must be an integer from 100 \(one image per class\) to "
        r"500 \(the whole cifar100 training set\). "
        f"Received: train_size={train_size}"
    )
    with pytest.raises(ConfigError, match=expected):
        load_dataset("cifar100", data_dir=cifar100_dir, train_size=train_size)


@pytest.mark.parametrize("train_size", [0, -5, 2.5, "100", True])
def test_train_size_wrong_type(train_size):
    with pytest.raises(ConfigError, match="train_size must be None"):
        load_dataset("cifar100", train_size=train_size)


def test_validation_fraction_is_stratified(cifar100_dir):
    data = load_dataset("cifar100", data_dir=cifar100_dir, validation=0.2)

    assert len(data.x_val) == 100
    assert len(data.x_train) == 400
    assert np.bincount(data.y_val, minlength=100).tolist() == [1] * 100
    assert data.metadata["sizes"]["validation"] == 100
    assert data.metadata["validation"] == 0.2


def test_validation_count_from_subset(tmp_path):
    write_idx_folder(tmp_path / "data", train_size=100)
    data = load_dataset("mnist", data_dir=tmp_path / "data", train_size=50,
                        validation=20, seed=3)

    assert len(data.x_train) == 30
    assert len(data.x_val) == 20
    assert np.bincount(data.y_val, minlength=10).tolist() == [2] * 10
    assert np.bincount(data.y_train, minlength=10).tolist() == [3] * 10
    # Every image is distinct, so an image in both parts would be a leak.
    train_rows = {row.tobytes() for row in data.x_train}
    assert not any(row.tobytes() in train_rows for row in data.x_val)


def test_validation_test_uses_test_set(tmp_path):
    write_idx_folder(tmp_path / "data")
    data = load_dataset("mnist", data_dir=tmp_path / "data",
                        validation="test")

    assert data.x_val is data.x_test
    assert data.y_val is data.y_test
    assert len(data.x_train) == 30
    assert data.metadata["validation"] == "test"


@pytest.mark.parametrize(
    "validation", [0.0, 1.0, 1.5, -2, 0, "val", True, [0.1], float("nan")]
)
def test_validation_invalid_forms(validation):
    expected = (
        r"validation must be None \(no validation set\), a float in \(0, 1\)"
    )
    with pytest.raises(ConfigError, match=expected):
        load_dataset("mnist", validation=validation)


@pytest.mark.parametrize(
    ("validation", "expected"),
    [
        (21, "validation must hold out from 1 to 20 of the 30 training"),
        (0.01, "validation=0.01 holds out 0 of the 30 training images"),
        (0.99, "Use a smaller fraction or an int count"),
    ],
)
def test_validation_out_of_range(tmp_path, validation, expected):
    write_idx_folder(tmp_path / "data")
    with pytest.raises(ConfigError, match=expected):
        load_dataset("mnist", data_dir=tmp_path / "data",
                     validation=validation)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", None])
def test_invalid_seed(seed):
    with pytest.raises(ConfigError, match="seed must be a non-negative"):
        load_dataset("mnist", seed=seed)


def test_split_indices_partition_subset():
    labels = np.repeat(np.arange(10), 37)
    subset = _splits.stratified_subset(labels, 10, 123, seed=5,
                                       dataset_name="test")
    train_part, held_out = _splits.stratified_split(labels[subset], 10, 0.25,
                                                    seed=5)

    assert len(set(subset.tolist())) == 123
    assert sorted(train_part.tolist() + held_out.tolist()) == list(range(123))
    assert len(held_out) == 31
    counts = np.bincount(labels[subset], minlength=10)
    assert counts.max() - counts.min() <= 1


# ------------------------------------------------- MNIST vs Fashion-MNIST


def _mark_as(dataset, path, monkeypatch):
    """Add the SHA-256 of a written file to the known checksums."""
    from labkit.data import _checksums

    known = _checksums.KnownFile(
        dataset, path.name, "sha256", _checksums.GZIP_FILE,
        hashlib.sha256(path.read_bytes()).hexdigest(),
    )
    monkeypatch.setattr(
        _checksums, "KNOWN_FILES", (*_checksums.KNOWN_FILES, known)
    )
    return known.digest


def test_mnist_skips_debian_fashion_mnist_files():
    if not os.path.isdir(DEBIAN_FASHION_MNIST):
        pytest.skip(f"{DEBIAN_FASHION_MNIST} is missing")
    labels = os.path.join(DEBIAN_FASHION_MNIST, "train-labels-idx1-ubyte.gz")

    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset("mnist", data_dir=DEBIAN_FASHION_MNIST, download=False)
    message = str(caught.value)

    assert locate("mnist", data_dir=DEBIAN_FASHION_MNIST) is None
    assert locate("fashion_mnist", data_dir=DEBIAN_FASHION_MNIST) == \
        DEBIAN_FASHION_MNIST
    assert f"are fashion_mnist, not mnist ({labels}: the SHA-256" in message
    assert "0ae29f65d86684f32d1b9c85147786c547b9c6aebcaf235f0400a0cce308b056" \
        in message
    assert "To fix this, put mnist.npz" in message


def test_read_debian_fashion_mnist_as_mnist_names_file():
    if not os.path.isdir(DEBIAN_FASHION_MNIST):
        pytest.skip(f"{DEBIAN_FASHION_MNIST} is missing")
    from labkit.data import _formats

    with pytest.raises(DatasetFormatError) as caught:
        _formats.read_idx_folder(DEBIAN_FASHION_MNIST, tuple("0123456789"),
                                 "mnist")
    message = str(caught.value)

    images = os.path.join(DEBIAN_FASHION_MNIST, "train-images-idx3-ubyte.gz")
    assert message.startswith(f"{images} is a file of fashion_mnist, not mnist")
    assert "Load it as fashion_mnist" in message


def test_fashion_mnist_skips_known_mnist_files(tmp_path, no_debian,
                                                monkeypatch):
    write_idx_folder(tmp_path / "data")
    labels = tmp_path / "data" / "t10k-labels-idx1-ubyte.gz"
    digest = _mark_as("mnist", labels, monkeypatch)

    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset("fashion_mnist", data_dir=tmp_path / "data",
                     download=False)

    assert locate("fashion_mnist", data_dir=tmp_path / "data") is None
    assert locate("mnist", data_dir=tmp_path / "data") == \
        str(tmp_path / "data")
    assert f"are mnist, not fashion_mnist ({labels}" in str(caught.value)
    assert digest in str(caught.value)


def test_mixed_idx_folder_names_other_file(tmp_path, monkeypatch):
    write_idx_folder(tmp_path / "data" / "mnist")
    images = tmp_path / "data" / "mnist" / "t10k-images-idx3-ubyte.gz"
    _mark_as("fashion_mnist", images, monkeypatch)

    with pytest.raises(DatasetFormatError) as caught:
        load_dataset("mnist", data_dir=tmp_path / "data")

    assert str(caught.value).startswith(
        f"{images} is a file of fashion_mnist, not mnist: the SHA-256 of "
        "the .gz file is"
    )


# ------------------------------------------------------------ offline


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "Yes", "on"])
def test_offline_env_accepts_true_values(value, no_debian, monkeypatch):
    monkeypatch.setenv("LABKIT_OFFLINE", value)

    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset("fashion_mnist")

    assert f"skipped ($LABKIT_OFFLINE={value})" in str(caught.value)


@pytest.mark.parametrize("value", ["0", "false", "No", "off", ""])
def test_offline_env_false_values_allow_download(value, no_debian,
                                                 monkeypatch):
    monkeypatch.setenv("LABKIT_OFFLINE", value)

    with pytest.raises(DatasetUnavailableError) as caught:
        load_dataset("fashion_mnist")

    assert "network disabled in tests" in str(caught.value)


def test_offline_env_unknown_value_raises(tmp_path, monkeypatch):
    monkeypatch.setenv("LABKIT_OFFLINE", "maybe")
    write_idx_folder(tmp_path / "data")

    with pytest.raises(ConfigError) as caught:
        load_dataset("fashion_mnist", data_dir=tmp_path / "data")

    assert str(caught.value) == (
        "LABKIT_OFFLINE must be one of 1, true, yes, on to turn dataset "
        "downloads off, or one of 0, false, no, off (or unset) to allow them. "
        "Received: LABKIT_OFFLINE='maybe'. Set it to one of these values or "
        "unset it."
    )
