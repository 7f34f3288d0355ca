"""Random shift and horizontal flip of training images, as in the 2017 study.

The 2017 seminar study "Comparison of Gradient Descent Optimization Methods
for Neural Networks", which labkit reproduces, trained with Keras 2's
`ImageDataGenerator(width_shift_range=0.1, height_shift_range=0.1,
horizontal_flip=True, fill_mode="nearest")`. This module builds the same
augmentation from Keras 3 preprocessing layers, so it runs inside the model
on any backend.
"""

import logging

import keras
import numpy as np

from labkit.errors import ConfigError

logger = logging.getLogger(__name__)


@keras.saving.register_keras_serializable(package="labkit")
class TrainingOnlySequential(keras.Sequential):
    """A `keras.Sequential` that runs its layers only when `training=True`.

    Keras 3.15's random image layers declare `training=True` as the default
    of `call()`, so calling them without `training` augments. This model
    changes the default to `False`: it is an identity unless the caller, such
    as `Model.fit()`, passes `training=True` (directly or from an outer
    model).
    """

    def call(self, inputs, training=False, mask=None, **kwargs):
        return super().call(inputs, training=training, mask=mask, **kwargs)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        model = super().from_config(config, custom_objects=custom_objects)
        _allow_jit_under_jax(model)
        return model


def _allow_jit_under_jax(model):
    """Let a model with RandomTranslation compile with jax.jit.

    Keras 3.15 sets `supports_jit = False` on RandomTranslation, and a model
    with such a layer resolves `jit_compile="auto"` to `False`. Under JAX
    that means training op by op without jax.jit, although the layer's JAX
    implementation compiles (the JAX test in tests/test_augmentation.py fits
    such a model under jit). Other backends keep the Keras setting.
    """
    if keras.backend.backend() != "jax":
        return
    for layer in model.layers:
        if isinstance(layer, keras.layers.RandomTranslation):
            layer.supports_jit = True


def _layer_seeds(seed, count):
    """Derive `count` independent layer seeds from one integer seed.

    Each layer needs its own seed: two layers seeded alike draw the same
    uniform numbers, which would tie every flip to the size of the shift.
    """
    state = np.random.SeedSequence(seed).generate_state(count, dtype=np.uint32)
    # Keep the seeds below 2**31 so that every backend's seed dtype can
    # represent them.
    return [int(value) & 0x7FFFFFFF for value in state]


def _check_seed(seed):
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise ConfigError(
            "`seed` must be a non-negative integer. "
            f"Received: seed={seed!r}"
        )
    if seed < 0:
        raise ConfigError(
            "`seed` must be a non-negative integer. "
            f"Received: seed={seed!r}"
        )


def _check_shift(shift):
    if isinstance(shift, bool) or not isinstance(shift, (int, float)):
        raise ConfigError(
            "`shift` must be a number in [0, 1), a fraction of the image "
            f"size. Received: shift={shift!r}"
        )
    if not 0.0 <= shift < 1.0:
        raise ConfigError(
            "`shift` must be a number in [0, 1), a fraction of the image "
            f"size. Received: shift={shift!r}"
        )


def build_augmentation(
    *, seed, shift=0.1, horizontal_flip=True, name="augmentation"
):
    """Build the random shift and flip of the 2017 study as a Keras model.

    Each image is shifted by a random fraction of its height and of its
    width, drawn uniformly from `[-shift, shift]`, with bilinear
    interpolation (keras-preprocessing 1.1's `apply_affine_transform`, which
    `ImageDataGenerator` used, defaults to `order=1`, also linear). Pixels
    shifted in from outside repeat the nearest edge pixel. With
    `horizontal_flip`, each image is then mirrored left to right with
    probability 0.5.

    The model is an identity unless called with `training=True`, which
    `Model.fit()` passes and `predict()` and `evaluate()` do not. Its random
    draws depend only on `seed` and on the sequence of calls. Two models
    built with the same seed therefore transform the same batches
    identically, which labkit uses to give runs of different optimizers the
    same images.

    Args:
        seed: Non-negative integer that fixes every random draw.
        shift: Largest shift, as a fraction of the image height and width,
            in `[0, 1)`. `0` turns shifting off. Defaults to `0.1`.
        horizontal_flip: Whether to mirror half of the images left to
            right. Defaults to `True`.
        name: Name of the returned model. Defaults to `"augmentation"`.

    Returns:
        A `keras.Sequential` (a `TrainingOnlySequential`) that maps a batch
        of channels-last images to a batch of the same shape and float dtype.

    Raises:
        ConfigError: If `seed` or `shift` is out of range.

    Example:

    ```python
    augmentation = build_augmentation(seed=0)
    model = keras.Sequential([keras.Input((32, 32, 3)), augmentation, net])
    ```
    """
    _check_seed(seed)
    _check_shift(shift)
    translation_seed, flip_seed = _layer_seeds(int(seed), 2)

    layers = []
    if shift > 0:
        translation = keras.layers.RandomTranslation(
            height_factor=shift,
            width_factor=shift,
            fill_mode="nearest",
            interpolation="bilinear",
            seed=translation_seed,
            name="random_shift",
        )
        layers.append(translation)
    if horizontal_flip:
        layers.append(
            keras.layers.RandomFlip(
                "horizontal", seed=flip_seed, name="random_flip"
            )
        )
    if not layers:
        # A Sequential model needs at least one layer to be built.
        layers.append(keras.layers.Identity(name="no_augmentation"))

    logger.debug(
        "Built augmentation %r: shift=%s, horizontal_flip=%s, seed=%s",
        name,
        shift,
        horizontal_flip,
        seed,
    )
    model = TrainingOnlySequential(layers, name=name)
    _allow_jit_under_jax(model)
    return model
