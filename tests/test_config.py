"""Tests of run configurations and their validation."""

import json

import pytest

from labkit.errors import ConfigError, InvalidHyperParameterError, UnknownNameError
from labkit.training import RunConfig, build_run_configs, parse_validation


def test_run_config_round_trips_json():
    config = RunConfig(
        optimizer="adam", dataset="fashion_mnist", model="mlp", model_options={"hidden_units": [8]},
        preset="keras2017", hyperparameters={"learning_rate": 3e-4}, epochs=3, batch_size=16,
        seed=7, augmentation=False, validation=0.1, train_size=500, evaluate_test=True,
    )

    assert RunConfig.from_json(config.to_json()) == config
    assert json.loads(config.to_json())["hyperparameters"] == {"learning_rate": 3e-4}


@pytest.mark.parametrize(
    "field, value, message",
    [
        ("epochs", 0, "`epochs` must be an integer >= 1. Received: epochs=0"),
        ("batch_size", 2.5, "`batch_size` must be an integer >= 1. Received: batch_size=2.5"),
        ("seed", True, "`seed` must be an integer >= 0. Received: seed=True"),
        ("validation", 1.5, "validation must be None"),
        ("validation", "train", "validation must be None"),
        ("preset", "keras2", "preset must be one of keras3, keras2017. Received: preset='keras2'"),
        ("augmentation", "yes", "`augmentation` must be True or False"),
    ],
)
def test_run_config_invalid_values(field, value, message):
    with pytest.raises(ConfigError) as error:
        RunConfig(optimizer="sgd", **{field: value})

    assert message in str(error.value)


def test_run_config_unknown_names():
    with pytest.raises(UnknownNameError, match="Known datasets: cifar10, cifar100"):
        RunConfig(optimizer="sgd", dataset="imagenet")
    with pytest.raises(UnknownNameError, match="Known models"):
        RunConfig(optimizer="sgd", model="vgg")


def test_run_config_from_dict_unknown_key():
    with pytest.raises(ConfigError, match="Unknown run configuration keys: lr"):
        RunConfig.from_dict({"optimizer": "sgd", "lr": 0.1})


@pytest.mark.parametrize(
    "text, expected", [("test", "test"), ("none", None), ("0.1", 0.1), ("5000", 5000)]
)
def test_parse_validation(text, expected):
    assert parse_validation(text) == expected


@pytest.mark.parametrize("text", ["0", "-0.2", "abc", "1.5", "nan"])
def test_parse_validation_rejects(text):
    with pytest.raises(ConfigError, match=f"Received: validation='{text}'"):
        parse_validation(text)


def test_build_run_configs_seed_major():
    configs = build_run_configs(["sgd", "adam"], [0, 1], epochs=2)

    assert [(c.optimizer, c.seed) for c in configs] == [("sgd", 0), ("adam", 0), ("sgd", 1), ("adam", 1)]


def test_build_run_configs_validates_before_work():
    with pytest.raises(InvalidHyperParameterError, match="learning_rate"):
        build_run_configs(["sgd", "adam"], [0], {"adam": {"learning_rate": -1.0}})
    with pytest.raises(ConfigError, match="Each optimizer may appear once"):
        build_run_configs(["sgd", "sgd"], [0])
    with pytest.raises(ConfigError, match="Each seed may appear once"):
        build_run_configs(["sgd"], [1, 1])
    with pytest.raises(ConfigError, match="Name at least one optimizer"):
        build_run_configs([], [0])
