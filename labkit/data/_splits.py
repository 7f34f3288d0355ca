"""Stratified training subsets and validation splits.

Both work on labels only and return sorted indices, so the caller copies
each image once, and both are fixed by the seed alone: the same seed gives
the same subset and the same validation set whatever else changes.
"""

import numbers

import numpy as np

from labkit.errors import ConfigError

VALIDATION_FORMS = (
    "None (no validation set), a float in (0, 1) (the fraction of the "
    "training set held out), an int >= 1 (the number of training images "
    'held out) or "test" (the test set serves as validation)'
)

# Independent random streams per purpose, so that changing `validation`
# leaves the training subset as it was.
_SUBSET_STREAM = 1
_VALIDATION_STREAM = 2


def _is_int(value):
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def check_seed(seed):
    """Raise `ConfigError` unless `seed` is a non-negative integer."""
    if not _is_int(seed) or seed < 0:
        raise ConfigError(
            f"seed must be a non-negative integer. Received: seed={seed!r}"
        )


def check_train_size(train_size):
    """Check the type of `train_size`; its range needs the dataset."""
    if train_size is None:
        return
    if not _is_int(train_size) or train_size < 1:
        raise ConfigError(
            "train_size must be None (the whole training set) or a positive "
            f"integer. Received: train_size={train_size!r}"
        )


def check_validation(validation):
    """Check the form of `validation`; a count's range needs the dataset."""
    if validation is None:
        return
    if isinstance(validation, str) and validation == "test":
        return
    if _is_int(validation) and validation >= 1:
        return
    if (
        isinstance(validation, numbers.Real)
        and not _is_int(validation)
        and not isinstance(validation, bool)
        and 0.0 < validation < 1.0
    ):
        return
    raise ConfigError(
        f"validation must be {VALIDATION_FORMS}. "
        f"Received: validation={validation!r}"
    )


def _allocate(total, capacity, weight, rng):
    """Split `total` items among classes in proportion to `weight`.

    No class gets more than its `capacity`. Shares are rounded down and the
    items left over go one each to the classes with the largest remainders,
    ties broken at random, so equal weights give counts that differ by at
    most one.

    Args:
        total: Items to allocate, at most `capacity.sum()`.
        capacity: Most items each class can take.
        weight: Relative share of each class.
        rng: `numpy.random.Generator` that breaks ties.

    Returns:
        An int64 array of counts per class that sums to `total`.
    """
    capacity = np.asarray(capacity, dtype=np.int64)
    weight = np.asarray(weight, dtype=np.float64)
    counts = np.zeros_like(capacity)
    remaining = total
    while remaining > 0:
        open_weight = np.where(counts < capacity, weight, 0.0)
        share = remaining * open_weight / open_weight.sum()
        added = np.minimum(np.floor(share).astype(np.int64), capacity - counts)
        if added.sum() == 0:
            # Every share is below one, so fewer items remain than classes
            # with room: give one each to the largest remainders.
            tie_breaker = rng.random(len(share))
            order = np.lexsort((tie_breaker, -share))
            order = order[open_weight[order] > 0][:remaining]
            added[order] = 1
        counts += added
        remaining -= int(added.sum())
    return counts


def _indices_by_class(labels, num_classes):
    return [np.flatnonzero(labels == label) for label in range(num_classes)]


def stratified_subset(labels, num_classes, train_size, seed, dataset_name):
    """Draw `train_size` training indices, as equal per class as possible.

    Args:
        labels: `int64` labels of the whole training set.
        num_classes: Number of classes.
        train_size: Number of images to draw.
        seed: Seed that fixes the draw.
        dataset_name: Name of the dataset, for error messages.

    Returns:
        Sorted indices into `labels`.

    Raises:
        ConfigError: If `train_size` is below `num_classes` or above the
            size of the training set.
    """
    available = len(labels)
    if not num_classes <= train_size <= available:
        raise ConfigError(
            f"train_size must be an integer from {num_classes} (one image "
            f"per class) to {available} (the whole {dataset_name} training "
            f"set). Received: train_size={train_size}"
        )
    rng = np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(_SUBSET_STREAM,))
    )
    by_class = _indices_by_class(labels, num_classes)
    sizes = [len(indices) for indices in by_class]
    counts = _allocate(train_size, sizes, np.ones(num_classes), rng)
    chosen = [
        rng.permutation(indices)[:count]
        for indices, count in zip(by_class, counts)
    ]
    return np.sort(np.concatenate(chosen))


def _validation_count(validation, size, num_classes):
    """Turn `validation` (a fraction or a count) into a checked count."""
    largest = size - num_classes
    if _is_int(validation):
        count = int(validation)
    else:
        count = int(round(validation * size))
    if 1 <= count <= largest:
        return count
    if _is_int(validation):
        raise ConfigError(
            f"validation must hold out from 1 to {largest} of the {size} "
            "training images, so that every class keeps at least one "
            f"training image. Received: validation={validation}"
        )
    advice = "a larger fraction" if count < 1 else "a smaller fraction"
    raise ConfigError(
        f"validation={validation} holds out {count} of the {size} training "
        f"images, but it must hold out from 1 to {largest}, so that every "
        f"class keeps at least one training image. Use {advice} or an int "
        "count."
    )


def stratified_split(labels, num_classes, validation, seed):
    """Split indices into training and validation parts, per class.

    Each class gives the validation set a share proportional to its size
    and keeps at least one image for training.

    Args:
        labels: `int64` labels of the training set (after any subset).
        num_classes: Number of classes.
        validation: A float in (0, 1), the fraction held out, or an int,
            the number of images held out.
        seed: Seed that fixes the draw.

    Returns:
        A tuple `(train_indices, validation_indices)`, each sorted.

    Raises:
        ConfigError: If the split would hold out no image or leave a class
            without training images.
    """
    count = _validation_count(validation, len(labels), num_classes)
    rng = np.random.default_rng(
        np.random.SeedSequence(seed, spawn_key=(_VALIDATION_STREAM,))
    )
    by_class = _indices_by_class(labels, num_classes)
    sizes = np.array([len(indices) for indices in by_class])
    counts = _allocate(count, np.maximum(sizes - 1, 0), sizes, rng)
    train_parts, validation_parts = [], []
    for indices, held_out in zip(by_class, counts):
        shuffled = rng.permutation(indices)
        validation_parts.append(shuffled[:held_out])
        train_parts.append(shuffled[held_out:])
    return (
        np.sort(np.concatenate(train_parts)),
        np.sort(np.concatenate(validation_parts)),
    )
