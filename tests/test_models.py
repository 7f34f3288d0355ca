"""Tests of the model builders."""

import pytest

from labkit.errors import ConfigError, UnknownNameError
from labkit.models import build_model, cifar10_cnn, mlp, names


@pytest.mark.parametrize(
    "shape, parameters", [((32, 32, 3), 1_250_858), ((28, 28, 1), 889_834)]
)
def test_cifar10_cnn_parameter_count(shape, parameters):
    assert cifar10_cnn(shape, 10).count_params() == parameters


def test_cifar10_cnn_layers_match_study():
    model = cifar10_cnn()
    kinds = [type(layer).__name__ for layer in model.layers]

    assert kinds == [
        "Conv2D", "Conv2D", "MaxPooling2D", "Dropout",
        "Conv2D", "Conv2D", "MaxPooling2D", "Dropout",
        "Flatten", "Dense", "Dropout", "Dense",
    ]
    assert [layer.padding for layer in model.layers if hasattr(layer, "padding")][:2] == ["same", "valid"]
    assert [layer.rate for layer in model.layers if kinds[model.layers.index(layer)] == "Dropout"] == [0.25, 0.25, 0.5]
    assert model.layers[-1].activation.__name__ == "softmax"


def test_cifar10_cnn_per_layer_options():
    model = cifar10_cnn(
        activation=["sigmoid", "relu", "relu", "relu", "sigmoid"], dropout=[0.1, 0.2, 0.3], width=0.5
    )

    assert model.layers[0].activation.__name__ == "sigmoid"
    assert model.layers[9].activation.__name__ == "sigmoid"
    assert model.layers[0].filters == 16
    assert model.layers[9].units == 256
    assert model.layers[10].rate == 0.3


@pytest.mark.parametrize(
    "options, message",
    [
        ({"dropout": 1.0}, "dropout must be a float in [0, 1). Received: dropout=1.0"),
        ({"dropout": [0.1, 0.2]}, "`dropout` must be one value or a sequence of 3 values"),
        ({"activation": "softplus"}, "activation must be one of"),
        ({"width": 0}, "`width` must be a positive number. Received: width=0"),
    ],
)
def test_cifar10_cnn_invalid_options(options, message):
    with pytest.raises(ConfigError) as error:
        cifar10_cnn(**options)

    assert message in str(error.value)


def test_mlp_builds_and_checks():
    assert mlp((28, 28, 1), 10, hidden_units=(8, 4)).count_params() == 784 * 8 + 8 + 8 * 4 + 4 + 4 * 10 + 10
    with pytest.raises(ConfigError, match="hidden_units"):
        mlp(hidden_units=(0,))


def test_build_model_by_name():
    assert names() == ["cifar10_cnn", "mlp"]
    assert build_model("mlp", (8, 8, 1), 3, hidden_units=[4]).output_shape == (None, 3)


def test_build_model_unknown_name_lists_known():
    with pytest.raises(UnknownNameError, match="Known models: cifar10_cnn, mlp"):
        build_model("resnet", (32, 32, 3), 10)


def test_build_model_unknown_option_lists_accepted():
    with pytest.raises(ConfigError, match="Accepted options: width, dropout, activation, name"):
        build_model("cifar10_cnn", (32, 32, 3), 10, depth=3)
