"""Tests of run configurations and their validation."""

import json

import pytest

from labkit.errors import ConfigError, InvalidHyperParameterError, UnknownNameError
from labkit.training import (
    MAX_SEED,
    RunConfig,
    build_run_configs,
    differing_settings,
    parse_validation,
    read_config,
    stored_settings,
)


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
        ("seed", True, "`seed` must be an integer from 0 to 4294967295. Received: seed=True"),
        ("seed", -1, "`seed` must be an integer from 0 to 4294967295. Received: seed=-1"),
        ("seed", 2**32, "`seed` must be an integer from 0 to 4294967295. Received: seed=4294967296"),
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


def test_run_config_largest_seed():
    assert RunConfig(optimizer="sgd", seed=MAX_SEED).seed == 2**32 - 1


def test_build_run_configs_rejects_large_seed():
    with pytest.raises(ConfigError, match="Received: seed=4294967296"):
        build_run_configs(["sgd"], [0, 2**32])


def test_run_config_unknown_model_option():
    with pytest.raises(ConfigError) as error:
        RunConfig(optimizer="sgd", model="mlp", model_options={"foo": 1})

    assert str(error.value) == (
        "Unknown option for model 'mlp': foo. Accepted options: hidden_units, "
        "dropout, activation, name. Received: model_options={'foo': 1}"
    )


@pytest.mark.parametrize(
    "options, message",
    [
        ({"foo": 1}, "Unknown option for model 'mlp': foo."),
        ({"activation": "nosuch"}, "activation must be one of relu, sigmoid"),
        ({"hidden_units": [0]}, "`hidden_units` must be positive integers"),
        ({"dropout": 1.5}, "dropout must be a float in [0, 1)"),
        ({"name": "two words"}, "Invalid option for model 'mlp'"),
    ],
)
def test_build_run_configs_checks_model_options(options, message):
    with pytest.raises(ConfigError) as error:
        build_run_configs(["sgd"], [0], model="mlp", model_options=options, dataset="mnist")

    assert message in str(error.value)


def test_build_run_configs_model_options_for_dataset():
    configs = build_run_configs(
        ["sgd"], [0], model="cifar10_cnn", model_options={"width": 0.25}, dataset="cifar100"
    )

    assert configs[0].model_options == {"width": 0.25}


def _saved(**changes):
    runs = [
        RunConfig(optimizer=name, seed=seed, dataset="mnist", model="mlp", epochs=3,
                  hyperparameters={"learning_rate": 0.1} if name == "sgd" else {}).to_dict()
        for seed in (0, 1) for name in ("sgd", "adam")
    ]
    saved = {
        "comparison_id": "abc123",
        "name": "sgd vs adam",
        "store": "sqlite:////tmp/results.db",
        "store_has_password": False,
        "runs": runs,
        "data": {"files": []},
        "data_dir": None,
    }
    saved.update(changes)
    return saved


def _write(tmp_path, content):
    path = tmp_path / "config.json"
    path.write_text(content if isinstance(content, str) else json.dumps(content))
    return path


def test_read_config_valid(tmp_path):
    _write(tmp_path, _saved())

    assert read_config(tmp_path)["comparison_id"] == "abc123"


@pytest.mark.parametrize("key", ["comparison_id", "runs", "store", "data"])
def test_read_config_missing_key(tmp_path, key):
    saved = _saved()
    del saved[key]
    path = _write(tmp_path, saved)

    with pytest.raises(ConfigError, match=f"{path} lacks the key '{key}'. Restore {path}"):
        read_config(tmp_path)


def test_read_config_store_from_caller(tmp_path):
    saved = _saved()
    del saved["store"]
    _write(tmp_path, saved)

    assert "store" not in read_config(tmp_path, require_store=False)


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "is not valid JSON"),
        ("[1, 2]", "it contains a JSON list, not an object"),
        (_saved(store=5), "The key 'store' of .* has an invalid value: 5"),
        (_saved(runs=[]), "The key 'runs' of .* lists no run"),
        (_saved(runs=["sgd"]), "Run 0 of .* is invalid: expected an object"),
        (_saved(runs=[{"optimizer": "sgd", "epochs": 0}]), "Run 0 of .* is invalid: `epochs`"),
        (_saved(runs=[{"optimizer": "sgd", "model": "vgg"}]), "Run 0 of .* is invalid: Unknown model"),
        (_saved(runs=[{"seed": 1}]), "Run 0 of .* is invalid: .*optimizer"),
    ],
)
def test_read_config_invalid(tmp_path, content, message):
    _write(tmp_path, content)

    with pytest.raises(ConfigError, match=message):
        read_config(tmp_path)


def test_read_config_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="contains no labkit comparison"):
        read_config(tmp_path)


def test_stored_settings_from_runs():
    stored = stored_settings(_saved())

    assert stored["optimizers"] == ["sgd", "adam"]
    assert stored["seeds"] == [0, 1]
    assert stored["hyperparameters"] == {"sgd": {"learning_rate": 0.1}}
    assert stored["epochs"] == 3
    assert stored["model"] == "mlp"
    assert stored["name"] == "sgd vs adam"


def test_differing_settings_lists_ignored():
    stored = stored_settings(_saved())
    requested = {"epochs": 5, "seeds": (0, 1), "optimizers": ["sgd", "adam"], "data_dir": "/data"}

    assert differing_settings(stored, requested) == {"epochs": (5, 3)}
