"""Shared fixtures: tiny real data, loaded once per test session."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

FASHION_DIR = "/usr/share/datasets/fashion-mnist"


@pytest.fixture(scope="session")
def fashion_available():
    if not os.path.isdir(FASHION_DIR):
        pytest.skip(f"{FASHION_DIR} is missing: apt-get install dataset-fashion-mnist")


@pytest.fixture
def tiny_fashion(fashion_available):
    """160 Fashion-MNIST training images (a quarter held out), as a Dataset.

    A fresh object each test, because some tests change its arrays.
    """
    from labkit.data import load_dataset

    return load_dataset("fashion_mnist", train_size=160, validation=0.25, seed=0, download=False)
