"""Tests of the optimizer registry, its validation and its messages."""

import inspect
import json
import os
import pathlib
import subprocess
import sys
import warnings

import keras
import numpy as np
import pytest

from labkit import optimizers
from labkit.errors import ConfigError
from labkit.errors import InvalidHyperParameterError
from labkit.errors import UnknownNameError
from labkit.optimizers import _docs
from labkit.optimizers._spec import KINDS

REPO_ROOT = pathlib.Path(__file__).resolve().parents[1]

EXPECTED_NAMES = [
    "adadelta", "adafactor", "adagrad", "adam", "adamax", "adamw", "ftrl",
    "lamb", "lion", "momentum", "muon", "nadam", "nesterov", "rmsprop",
    "schedulefreeadamw", "sgd",
]
KERAS2017_NAMES = {
    "sgd", "momentum", "nesterov", "rmsprop", "adagrad", "adadelta", "adam",
    "adamax", "nadam",
}
ALL_CASES = [
    (name, preset) for name in EXPECTED_NAMES for preset in optimizers.PRESETS
]


def _keras_arguments(entry, preset):
    """Return (class, parameter names passed to it) for one preset."""
    cls = entry.class_for(entry.defaults[preset])
    params = [
        param for param in entry.hyperparameters.values()
        if param.keras_argument
    ]
    return cls, params


# Registry


def test_names_lists_every_entry_sorted():
    assert optimizers.names() == EXPECTED_NAMES


def test_every_keras_optimizer_has_an_entry():
    # Wrappers, the base class and the MultiOptimizer helper are not
    # optimizers with an update rule of their own.
    not_entries = {
        "LossScaleOptimizer", "MultiOptimizer", "Optimizer", "OptimizerMap",
    }
    classes = {
        name for name, value in vars(keras.optimizers).items()
        if inspect.isclass(value) and name not in not_entries
    }
    registered = {
        optimizers.spec(name).optimizer_class.__name__
        for name in optimizers.names()
    }
    assert classes == registered


def test_spec_ignores_case():
    assert optimizers.spec("AdaM").name == "adam"


@pytest.mark.parametrize("name, preset", ALL_CASES)
def test_entry_builds_and_steps(name, preset):
    variable = keras.Variable(np.ones((3, 2), dtype="float32"))
    gradient = keras.ops.convert_to_tensor(
        np.full((3, 2), 0.5, dtype="float32")
    )

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        optimizer = optimizers.get(name, preset)
    optimizer.apply_gradients([(gradient, variable)])

    messages = [str(warning.message) for warning in caught]
    if preset == "keras2017" and name not in KERAS2017_NAMES:
        assert len(messages) == 1
        assert messages[0].startswith(f"Keras 2.0 had no {name!r} optimizer")
    else:
        assert messages == []
    assert isinstance(optimizer, keras.optimizers.Optimizer)
    assert np.all(np.isfinite(keras.ops.convert_to_numpy(variable)))


def test_keras2017_fallback_warning_text_and_caller():
    with pytest.warns(UserWarning) as record:
        optimizers.get("adamw", "keras2017")

    assert str(record[0].message) == (
        "Keras 2.0 had no 'adamw' optimizer, so preset 'keras2017' uses its "
        "Keras 3 defaults. Keras 2.0 optimizers: sgd, momentum, nesterov, "
        "rmsprop, adagrad, adadelta, adam, adamax, nadam."
    )
    assert record[0].filename == __file__


def test_resolve_warns_for_keras2017_fallback():
    with pytest.warns(UserWarning, match="Keras 2.0 had no 'lion'"):
        values = optimizers.resolve("lion", "keras2017")

    assert values == optimizers.resolve("lion", "keras3")


def test_get_returns_new_instance():
    first = optimizers.get("adam")
    second = optimizers.get("adam")

    assert first is not second


def test_get_passes_values_to_keras():
    optimizer = optimizers.get("sgd", learning_rate=0.5, momentum=0.25)

    assert optimizer.get_config()["learning_rate"] == pytest.approx(0.5)
    assert optimizer.momentum == 0.25
    assert optimizer.nesterov is False


def test_off_value_passes_none_to_keras():
    assert optimizers.get("lion").weight_decay is None
    assert optimizers.get("lion", weight_decay=0.1).weight_decay == 0.1


def test_adagrad_presets_select_classes():
    keras3 = optimizers.get("adagrad", "keras3")
    keras2017 = optimizers.get("adagrad", "keras2017")
    crossed = optimizers.get(
        "adagrad", "keras3", epsilon_placement="outside_sqrt"
    )

    assert type(keras3) is keras.optimizers.Adagrad
    assert type(keras2017) is optimizers.Adagrad2017
    assert type(crossed) is optimizers.Adagrad2017
    assert crossed.initial_accumulator_value == 0.1


# Specs


@pytest.mark.parametrize("name, preset", ALL_CASES)
def test_spec_parameters_are_constructor_arguments(name, preset):
    entry = optimizers.spec(name)
    cls, params = _keras_arguments(entry, preset)
    signature = inspect.signature(cls)

    for param in params:
        assert param.name in signature.parameters, (cls, param.name)


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_keras3_preset_equals_installed_defaults(name):
    entry = optimizers.spec(name)
    cls, params = _keras_arguments(entry, "keras3")
    signature = inspect.signature(cls)

    for param in params:
        installed = signature.parameters[param.name].default
        if installed is None:
            installed = param.off_value
        if name in ("momentum", "nesterov") and param.name != "learning_rate":
            continue  # these entries set momentum and nesterov on purpose
        assert entry.defaults["keras3"][param.name] == installed, param.name


def test_momentum_entries_set_momentum():
    assert optimizers.resolve("momentum") == {
        "learning_rate": 0.01, "momentum": 0.9, "nesterov": False,
    }
    assert optimizers.resolve("nesterov") == {
        "learning_rate": 0.01, "momentum": 0.9, "nesterov": True,
    }


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_spec_text_is_complete(name):
    entry = optimizers.spec(name)

    assert entry.name == name
    assert entry.summary and "\n" not in entry.summary
    assert entry.update_rule.strip()
    assert entry.weakness.strip()
    assert entry.reference.strip()
    assert "η" in entry.symbols
    if entry.in_keras2017:
        assert entry.keras2017_note.strip()


@pytest.mark.parametrize("name", EXPECTED_NAMES)
def test_hyperparameters_are_complete(name):
    entry = optimizers.spec(name)

    for param in entry.hyperparameters.values():
        assert param.kind in KINDS
        assert param.help and "\n" not in param.help
        if param.kind in ("float", "int"):
            low, high = param.slider_range
            assert param.interval.contains(low), param.name
            assert param.interval.contains(high), param.name
            assert low < high, param.name
        if param.kind == "choice":
            assert param.choices


@pytest.mark.parametrize("name, preset", ALL_CASES)
def test_defaults_inside_interval_and_slider(name, preset):
    entry = optimizers.spec(name)

    for param_name, value in entry.defaults[preset].items():
        param = entry.hyperparameters[param_name]
        if param.kind not in ("float", "int"):
            continue
        low, high = param.slider_range
        assert param.interval.contains(value), (param_name, value)
        assert low <= value <= high, (param_name, value)


def test_keras2017_defaults():
    assert optimizers.resolve("sgd", "keras2017") == {
        "learning_rate": 0.01, "momentum": 0.0, "nesterov": False,
    }
    assert optimizers.resolve("rmsprop", "keras2017") == {
        "learning_rate": 0.001, "rho": 0.9, "momentum": 0.0,
        "epsilon": 1e-8, "centered": False,
    }
    assert optimizers.resolve("adagrad", "keras2017") == {
        "learning_rate": 0.01, "initial_accumulator_value": 0.0,
        "epsilon": 1e-8, "epsilon_placement": "outside_sqrt",
    }
    assert optimizers.resolve("adadelta", "keras2017") == {
        "learning_rate": 1.0, "rho": 0.95, "epsilon": 1e-8,
    }
    assert optimizers.resolve("adam", "keras2017") == {
        "learning_rate": 0.001, "beta_1": 0.9, "beta_2": 0.999,
        "epsilon": 1e-8, "amsgrad": False,
    }
    for name in ("adamax", "nadam"):
        assert optimizers.resolve(name, "keras2017") == {
            "learning_rate": 0.002, "beta_1": 0.9, "beta_2": 0.999,
            "epsilon": 1e-8,
        }


def test_registry_defaults_are_read_only():
    entry = optimizers.spec("adam")

    with pytest.raises(TypeError):
        entry.defaults["keras3"]["learning_rate"] = 1.0
    values = optimizers.resolve("adam")
    values["learning_rate"] = 1.0
    assert optimizers.resolve("adam")["learning_rate"] == 0.001


# resolve()


@pytest.mark.parametrize("name, preset", ALL_CASES)
def test_resolve_returns_plain_json_values(name, preset):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        values = optimizers.resolve(name, preset)
        again = optimizers.resolve(name, preset, **values)

    assert json.loads(json.dumps(values)) == values
    for value in values.values():
        assert type(value) in (float, int, bool, str), value
    assert again == values


def test_resolve_converts_int_to_float():
    values = optimizers.resolve("sgd", learning_rate=1, momentum=0)

    assert values == {"learning_rate": 1.0, "momentum": 0.0,
                      "nesterov": False}
    assert type(values["learning_rate"]) is float
    assert type(values["momentum"]) is float


def test_resolve_converts_numpy_values():
    values = optimizers.resolve(
        "muon", learning_rate=np.float32(0.5), ns_steps=np.int64(3),
        nesterov=np.bool_(False),
    )

    assert type(values["learning_rate"]) is float
    assert type(values["ns_steps"]) is int
    assert type(values["nesterov"]) is bool


# Messages. They are part of the interface, so the texts are matched exactly.


def _message(function, *args, **kwargs):
    with pytest.raises(InvalidHyperParameterError) as info:
        function(*args, **kwargs)
    return str(info.value)


@pytest.mark.parametrize(
    "name, overrides, expected",
    [
        (
            "adam", {"learning_rate": -0.1},
            "adam: learning_rate must be a float in (0, inf). "
            "Received: learning_rate=-0.1",
        ),
        (
            "sgd", {"momentum": 1.0},
            "sgd: momentum must be a float in [0, 1). Received: momentum=1.0",
        ),
        (
            "adam", {"learning_rate": "0.1"},
            "adam: learning_rate must be a float in (0, inf). "
            "Received: learning_rate='0.1'",
        ),
        (
            "adam", {"learning_rate": True},
            "adam: learning_rate must be a float in (0, inf). "
            "Received: learning_rate=True",
        ),
        (
            "adam", {"learning_rate": float("nan")},
            "adam: learning_rate must be a float in (0, inf). "
            "Received: learning_rate=nan",
        ),
        (
            "adam", {"learning_rate": float("inf")},
            "adam: learning_rate must be a float in (0, inf). "
            "Received: learning_rate=inf",
        ),
        (
            "sgd", {"nesterov": 1},
            "sgd: nesterov must be a bool (True or False). Received: nesterov=1",
        ),
        (
            "muon", {"ns_steps": 5.0},
            "muon: ns_steps must be an int in [1, inf). Received: ns_steps=5.0",
        ),
        (
            "ftrl", {"learning_rate_power": 0.5},
            "ftrl: learning_rate_power must be a float in (-inf, 0]. "
            "Received: learning_rate_power=0.5",
        ),
        (
            "adagrad", {"epsilon_placement": "inside"},
            "adagrad: epsilon_placement must be one of 'inside_sqrt', "
            "'outside_sqrt'. Received: epsilon_placement='inside'",
        ),
        (
            "lion", {"beta_1": 0.0},
            "lion: beta_1 must be a float in (0, 1]. Received: beta_1=0.0",
        ),
    ],
)
def test_invalid_value_message(name, overrides, expected):
    assert _message(optimizers.get, name, **overrides) == expected
    assert _message(optimizers.resolve, name, **overrides) == expected


def test_unknown_hyperparameter_message():
    assert _message(optimizers.get, "sgd", lr=0.1) == (
        "sgd: unknown hyper-parameter 'lr'. Did you mean 'learning_rate'? "
        "Known hyper-parameters: learning_rate, momentum, nesterov."
    )
    assert _message(optimizers.get, "sgd", rho=0.9) == (
        "sgd: unknown hyper-parameter 'rho'. "
        "Known hyper-parameters: learning_rate, momentum, nesterov."
    )
    assert _message(optimizers.get, "adam", beta1=0.9) == (
        "adam: unknown hyper-parameter 'beta1'. Did you mean 'beta_1'? "
        "Known hyper-parameters: learning_rate, beta_1, beta_2, epsilon, "
        "amsgrad."
    )


def test_unknown_name_reported_before_invalid_value():
    message = _message(optimizers.get, "sgd", learning_rate=-1.0, lr=0.1)

    assert message.startswith("sgd: unknown hyper-parameter 'lr'.")


def test_unknown_optimizer_message():
    with pytest.raises(UnknownNameError) as info:
        optimizers.get("adamm")

    assert str(info.value) == (
        "Unknown optimizer 'adamm'. Did you mean 'adam'? Known optimizers: "
        "adadelta, adafactor, adagrad, adam, adamax, adamw, ftrl, lamb, "
        "lion, momentum, muon, nadam, nesterov, rmsprop, schedulefreeadamw, "
        "sgd."
    )


def test_unknown_optimizer_without_close_match():
    with pytest.raises(UnknownNameError) as number:
        optimizers.spec(42)
    with pytest.raises(UnknownNameError) as unhashable:
        optimizers.spec(["adam"])

    assert str(number.value).startswith(
        "Unknown optimizer 42. Known optimizers: adadelta,"
    )
    assert str(unhashable.value).startswith(
        "Unknown optimizer ['adam']. Known optimizers: adadelta,"
    )


def test_int_too_large_for_float_rejected():
    message = _message(optimizers.resolve, "adam", epsilon=10**400)

    assert message.startswith("adam: epsilon must be a float in (0, inf).")


def test_unknown_preset_message():
    with pytest.raises(ConfigError) as info:
        optimizers.get("adam", preset="keras2")

    assert str(info.value) == (
        "Unknown preset 'keras2'. Known presets: keras3, keras2017."
    )


def test_describe_range():
    sgd = optimizers.spec("sgd").hyperparameters
    muon = optimizers.spec("muon").hyperparameters

    assert optimizers.describe_range(sgd["learning_rate"]) == (
        "a float in (0, inf)"
    )
    assert optimizers.describe_range(sgd["momentum"]) == "a float in [0, 1)"
    assert optimizers.describe_range(muon["ns_steps"]) == (
        "an int in [1, inf)"
    )
    assert optimizers.describe_range(sgd["nesterov"]) == (
        "a bool (True or False)"
    )


# The custom Adagrad


def test_adagrad2017_saves_and_loads_in_model(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(8, 3)).astype("float32")
    y = rng.normal(size=(8, 2)).astype("float32")
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(optimizer=optimizers.get("adagrad", "keras2017"),
                  loss="mse")
    model.fit(x, y, epochs=2, batch_size=4, verbose=0)
    path = tmp_path / "model.keras"

    model.save(path)
    loaded = keras.saving.load_model(path)

    assert type(loaded.optimizer) is optimizers.Adagrad2017
    assert loaded.optimizer.get_config() == model.optimizer.get_config()
    saved_values = [v.numpy() for v in model.optimizer.variables]
    loaded_values = [v.numpy() for v in loaded.optimizer.variables]
    assert len(loaded_values) == len(saved_values) == 4
    assert int(loaded_values[0]) == 4  # iterations: 2 epochs of 2 batches
    for saved, restored in zip(saved_values, loaded_values):
        np.testing.assert_array_equal(restored, saved)
    # The accumulators hold the sums of squared gradients, never 0 here.
    assert np.all(loaded_values[2] > 0)


def test_adagrad2017_rejects_invalid_arguments():
    with pytest.raises(ValueError, match="`epsilon` must be a float > 0"):
        optimizers.Adagrad2017(epsilon=0.0)
    with pytest.raises(ValueError, match="`initial_accumulator_value`"):
        optimizers.Adagrad2017(initial_accumulator_value=-1.0)


_JAX_SCRIPT = """
import json
import keras
import numpy as np
from labkit import optimizers

optimizer = optimizers.get("adagrad", "keras2017", learning_rate=0.5)
variable = keras.Variable(np.array([1.0, -2.0, 3.0], dtype="float32"))
for step in range(1, 4):
    gradient = np.array([0.5, -1.0, 2.0], dtype="float32") * step
    optimizer.apply_gradients([(keras.ops.convert_to_tensor(gradient),
                                variable)])
print(json.dumps({"backend": keras.backend.backend(),
                  "type": type(optimizer).__name__,
                  "value": keras.ops.convert_to_numpy(variable).tolist()}))
"""


def test_adagrad2017_runs_on_jax_backend():
    pytest.importorskip("jax")
    environment = {**os.environ, "KERAS_BACKEND": "jax"}

    completed = subprocess.run(
        [sys.executable, "-c", _JAX_SCRIPT],
        capture_output=True,
        text=True,
        env=environment,
        cwd=REPO_ROOT,
        timeout=120,
    )

    assert completed.returncode == 0, completed.stderr[-2000:]
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    theta = np.array([1.0, -2.0, 3.0])
    accumulator = np.zeros(3)
    for step in range(1, 4):
        gradient = np.array([0.5, -1.0, 2.0]) * step
        accumulator += gradient**2
        theta -= 0.5 * gradient / (np.sqrt(accumulator) + 1e-8)
    assert result["backend"] == "jax"
    assert result["type"] == "Adagrad2017"
    np.testing.assert_allclose(result["value"], theta, rtol=1e-5)


# Docs


def test_docs_file_matches_registry():
    committed = (REPO_ROOT / "docs" / "optimizers.md").read_text(
        encoding="utf-8"
    )

    assert committed == _docs.render_markdown(), (
        "docs/optimizers.md is stale: run "
        "`python -m labkit.optimizers._docs docs/optimizers.md`"
    )
