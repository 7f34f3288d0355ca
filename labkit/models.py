"""Model builders: the 2017 study's CIFAR-10 CNN and a small MLP.

Every builder takes the input shape and the number of classes and returns an
uncompiled `keras.Model` that ends in a softmax, so the runner can train any
of them with sparse categorical cross-entropy.
"""

import inspect
import logging
from collections.abc import Sequence

import keras

from labkit.errors import ConfigError, UnknownNameError

logger = logging.getLogger(__name__)

ACTIVATIONS = ("relu", "sigmoid", "tanh", "elu", "selu", "gelu", "swish", "linear")


def _per_layer(value, count, argument, check):
    """Expand a scalar to `count` values, or check a sequence's length."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        values = [value] * count
    else:
        values = list(value)
        if len(values) != count:
            raise ConfigError(
                f"`{argument}` must be one value or a sequence of {count} "
                f"values, one per layer. Received: {argument}={value!r}"
            )
    for item in values:
        check(item)
    return values


def _check_activation(value):
    if value not in ACTIVATIONS:
        raise ConfigError(
            f"activation must be one of {', '.join(ACTIVATIONS)}. "
            f"Received: activation={value!r}"
        )


def _check_dropout(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(
            f"dropout must be a float in [0, 1). Received: dropout={value!r}"
        )
    if not 0.0 <= value < 1.0:
        raise ConfigError(
            f"dropout must be a float in [0, 1). Received: dropout={value!r}"
        )


def _check_positive(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(
            f"`{name}` must be a positive number. Received: {name}={value!r}"
        )
    if not value > 0:
        raise ConfigError(
            f"`{name}` must be a positive number. Received: {name}={value!r}"
        )


def cifar10_cnn(
    input_shape=(32, 32, 3),
    num_classes=10,
    *,
    width=1.0,
    dropout=(0.25, 0.25, 0.5),
    activation="relu",
    name="cifar10_cnn",
):
    """Build the Keras CIFAR-10 example CNN that the 2017 study trained.

    The layers are: two 3x3 convolutions of 32 filters (padding `same`, then
    `valid`), 2x2 max pooling and dropout; the same block with 64 filters;
    then a dense layer of 512 units with dropout and a softmax output. With
    the defaults it has 1,250,858 parameters on 32x32x3 input and 889,834 on
    28x28x1. Kernels use Glorot uniform and biases start at zero (the Keras
    defaults).

    Args:
        input_shape: Image shape `(height, width, channels)`. Defaults to
            `(32, 32, 3)`.
        num_classes: Number of output classes. Defaults to `10`.
        width: Multiplier on the number of filters and dense units; `1.0` is
            the study's network. Defaults to `1.0`.
        dropout: Dropout rate after each of the three blocks, as one float or
            three floats in [0, 1). Defaults to `(0.25, 0.25, 0.5)`.
        activation: Activation of the five hidden layers (four convolutions
            and the dense layer), as one name or five names. The study's
            search tried `"relu"` and `"sigmoid"`. Defaults to `"relu"`.
        name: Model name. Defaults to `"cifar10_cnn"`.

    Returns:
        An uncompiled `keras.Sequential`.

    Raises:
        ConfigError: if an argument is out of range.
    """
    _check_positive("width", width)
    dropouts = _per_layer(dropout, 3, "dropout", _check_dropout)
    activations = _per_layer(activation, 5, "activation", _check_activation)
    small, large, dense = (max(1, round(n * width)) for n in (32, 64, 512))

    def conv(filters, padding, activation_name):
        return keras.layers.Conv2D(
            filters, (3, 3), padding=padding, activation=activation_name
        )

    return keras.Sequential(
        [
            keras.Input(shape=tuple(input_shape)),
            conv(small, "same", activations[0]),
            conv(small, "valid", activations[1]),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Dropout(dropouts[0]),
            conv(large, "same", activations[2]),
            conv(large, "valid", activations[3]),
            keras.layers.MaxPooling2D(pool_size=(2, 2)),
            keras.layers.Dropout(dropouts[1]),
            keras.layers.Flatten(),
            keras.layers.Dense(dense, activation=activations[4]),
            keras.layers.Dropout(dropouts[2]),
            keras.layers.Dense(num_classes, activation="softmax"),
        ],
        name=name,
    )


def mlp(
    input_shape=(28, 28, 1),
    num_classes=10,
    *,
    hidden_units=(128,),
    dropout=0.0,
    activation="relu",
    name="mlp",
):
    """Build a small multi-layer perceptron for quick demonstrations.

    Args:
        input_shape: Image shape `(height, width, channels)`; the image is
            flattened. Defaults to `(28, 28, 1)`.
        num_classes: Number of output classes. Defaults to `10`.
        hidden_units: Units of each hidden dense layer. Defaults to `(128,)`.
        dropout: Dropout rate after each hidden layer, in [0, 1). Defaults to
            `0.0`.
        activation: Activation of the hidden layers. Defaults to `"relu"`.
        name: Model name. Defaults to `"mlp"`.

    Returns:
        An uncompiled `keras.Sequential`.

    Raises:
        ConfigError: if an argument is out of range.
    """
    if isinstance(hidden_units, int):
        hidden_units = (hidden_units,)
    for units in hidden_units:
        if isinstance(units, bool) or not isinstance(units, int) or units < 1:
            raise ConfigError(
                "`hidden_units` must be positive integers. "
                f"Received: hidden_units={hidden_units!r}"
            )
    _check_dropout(dropout)
    _check_activation(activation)

    layers = [keras.Input(shape=tuple(input_shape)), keras.layers.Flatten()]
    for units in hidden_units:
        layers.append(keras.layers.Dense(units, activation=activation))
        if dropout:
            layers.append(keras.layers.Dropout(dropout))
    layers.append(keras.layers.Dense(num_classes, activation="softmax"))
    return keras.Sequential(layers, name=name)


MODELS = {"cifar10_cnn": cifar10_cnn, "mlp": mlp}


def names():
    """Return the registered model names, sorted."""
    return sorted(MODELS)


def build_model(name, input_shape, num_classes, **options):
    """Build a registered model by name.

    Args:
        name: A name from `names()`.
        input_shape: Image shape `(height, width, channels)`.
        num_classes: Number of output classes.
        **options: Keyword arguments of the builder, such as `width=0.5`.

    Returns:
        An uncompiled `keras.Model`.

    Raises:
        UnknownNameError: if the name is not registered.
        ConfigError: if an option is unknown or out of range.
    """
    builder = MODELS.get(name)
    if builder is None:
        raise UnknownNameError(
            f"Unknown model {name!r}. Known models: {', '.join(names())}."
        )
    accepted = [
        parameter.name
        for parameter in inspect.signature(builder).parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise ConfigError(
            f"Unknown option for model {name!r}: {', '.join(unknown)}. "
            f"Accepted options: {', '.join(accepted)}."
        )
    return builder(input_shape, num_classes, **options)
