"""Tests of labkit.augmentation: random shift with edge fill and flip."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest

from labkit.augmentation import build_augmentation
from labkit.errors import ConfigError

SIZE = 32
MAX_SHIFT_PX = 0.1 * SIZE


def coordinate_images(batch_size):
    """Images whose channel 0 is row index + 1 and channel 1 column + 1.

    Bilinear interpolation reproduces a linear ramp exactly, so the values
    of a shifted image give its shift, and the values in its border show how
    it was filled.
    """
    rows, columns = np.meshgrid(
        np.arange(SIZE, dtype=np.float32),
        np.arange(SIZE, dtype=np.float32),
        indexing="ij",
    )
    image = np.stack([rows + 1, columns + 1], axis=-1)
    return np.repeat(image[np.newaxis], batch_size, axis=0)


def run(model, images, training):
    return keras.ops.convert_to_numpy(model(images, training=training))


def test_identity_at_inference():
    model = build_augmentation(seed=0)
    images = np.random.default_rng(0).random((8, SIZE, SIZE, 3), np.float32)

    np.testing.assert_array_equal(run(model, images, False), images)
    # Keras' random layers augment by default; this model does not.
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(model(images)), images
    )


def test_changes_images_in_training():
    model = build_augmentation(seed=0)
    images = np.random.default_rng(0).random((8, SIZE, SIZE, 3), np.float32)

    augmented = run(model, images, True)

    assert augmented.shape == images.shape
    changed = [not np.allclose(a, b) for a, b in zip(augmented, images)]
    assert sum(changed) >= 6


def test_shift_fills_from_edge_within_ten_percent():
    model = build_augmentation(seed=3, horizontal_flip=False)
    images = coordinate_images(64)

    augmented = run(model, images, True)

    shifts = []
    centre = SIZE // 2
    for image in augmented:
        # Output pixel (r, c) samples input pixel (r - dy, c - dx).
        dy = centre - (image[centre, centre, 0] - 1)
        dx = centre - (image[centre, centre, 1] - 1)
        shifts.append((dy, dx))
        coordinates = np.arange(SIZE, dtype=np.float32)
        # Nearest fill clamps the sampled coordinate to the edge pixel.
        expected_rows = np.clip(coordinates - dy, 0, SIZE - 1) + 1
        expected_columns = np.clip(coordinates - dx, 0, SIZE - 1) + 1
        np.testing.assert_allclose(
            image[:, :, 0], np.broadcast_to(expected_rows[:, None],
                                            (SIZE, SIZE)), atol=1e-3
        )
        np.testing.assert_allclose(
            image[:, :, 1], np.broadcast_to(expected_columns[None, :],
                                            (SIZE, SIZE)), atol=1e-3
        )
        # Columns shifted in from the left repeat column 0 (value 1), and
        # those from the right repeat the last column (value SIZE).
        filled = int(np.floor(abs(dx)))
        if dx > 0 and filled:
            np.testing.assert_allclose(image[:, :filled, 1], 1.0, atol=1e-3)
        if dx < 0 and filled:
            np.testing.assert_allclose(
                image[:, SIZE - filled :, 1], float(SIZE), atol=1e-3
            )
    shifts = np.array(shifts)

    assert np.abs(shifts).max() <= MAX_SHIFT_PX + 1e-3
    # Both directions, and shifts near the limit, occur in 64 draws.
    assert (shifts[:, 0] > 0).any()
    assert (shifts[:, 0] < 0).any()
    assert (shifts[:, 1] > 0).any()
    assert (shifts[:, 1] < 0).any()
    assert np.abs(shifts).max() > 0.7 * MAX_SHIFT_PX


def test_horizontal_flip_mirrors_about_half():
    model = build_augmentation(seed=1, shift=0)
    images = coordinate_images(64)

    augmented = run(model, images, True)

    flipped = [np.array_equal(a, b[:, ::-1]) for a, b in zip(augmented, images)]
    unchanged = [np.array_equal(a, b) for a, b in zip(augmented, images)]
    assert all(f or u for f, u in zip(flipped, unchanged))
    assert 16 <= sum(flipped) <= 48


def test_same_seed_same_draws_call_for_call():
    images = np.random.default_rng(0).random((8, SIZE, SIZE, 3), np.float32)
    first = build_augmentation(seed=42)
    second = build_augmentation(seed=42)
    other = build_augmentation(seed=43)

    outputs = []
    for _ in range(3):
        a = run(first, images, True)
        b = run(second, images, True)
        np.testing.assert_array_equal(a, b)
        assert not np.allclose(a, run(other, images, True))
        outputs.append(a)
    # Each call draws anew.
    assert not np.allclose(outputs[0], outputs[1])


def test_runs_inside_model_during_fit():
    augmentation = build_augmentation(seed=0)
    model = keras.Sequential([
        keras.Input((SIZE, SIZE, 3)),
        augmentation,
        keras.layers.Flatten(),
        keras.layers.Dense(2),
    ])
    model.compile(
        "sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    images = np.random.default_rng(0).random((16, SIZE, SIZE, 3), np.float32)

    def generator_states():
        return [
            keras.ops.convert_to_numpy(layer.generator.state.value)
            for layer in augmentation.layers
        ]

    states_before = generator_states()
    model.fit(images, np.arange(16) % 2, batch_size=8, epochs=1, verbose=0)
    states_after = generator_states()

    # Each random draw advances the seed generator state of its layer.
    assert len(states_before) == 2
    for before, after in zip(states_before, states_after):
        assert not np.array_equal(before, after)


@pytest.mark.parametrize(
    ("kwargs", "expected"),
    [
        ({"seed": -1}, "`seed` must be a non-negative integer"),
        ({"seed": 1.5}, "`seed` must be a non-negative integer"),
        ({"seed": 0, "shift": 1.0}, r"`shift` must be a number in \[0, 1\)"),
        ({"seed": 0, "shift": -0.1}, r"`shift` must be a number in \[0, 1\)"),
    ],
)
def test_invalid_arguments(kwargs, expected):
    with pytest.raises(ConfigError, match=expected):
        build_augmentation(**kwargs)


JAX_SCRIPT = textwrap.dedent(
    """
    import keras
    import numpy as np
    from labkit.augmentation import build_augmentation

    assert keras.backend.backend() == "jax"
    images = np.random.default_rng(0).random((4, 16, 16, 3), np.float32)
    first, second = build_augmentation(seed=7), build_augmentation(seed=7)
    a = keras.ops.convert_to_numpy(first(images, training=True))
    b = keras.ops.convert_to_numpy(second(images, training=True))
    assert np.array_equal(a, b)
    assert not np.allclose(a, images)
    c = keras.ops.convert_to_numpy(first(images, training=False))
    assert np.array_equal(c, images)

    model = keras.Sequential([
        keras.Input((16, 16, 3)), build_augmentation(seed=0),
        keras.layers.Flatten(), keras.layers.Dense(2),
    ])
    model.compile(
        "sgd", keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    )
    assert model.jit_compile, "augmentation turned jax.jit off"
    model.fit(images, np.array([0, 1, 0, 1]), epochs=1, verbose=0)
    print("jax ok")
    """
)


def test_works_under_jax_backend():
    pytest.importorskip("jax")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    env["PYTHONPATH"] = os.pathsep.join(
        [repo, env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)

    result = subprocess.run(
        [sys.executable, "-c", JAX_SCRIPT],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert result.returncode == 0, result.stderr[-3000:]
    assert "jax ok" in result.stdout
