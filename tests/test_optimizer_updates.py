"""Golden update steps: Keras optimizers against NumPy versions of the rules.

Each reference below is written from the published update rule, in the
form Keras applies it, and runs in float64. Each case applies `STEPS` fixed
gradients to a 3x2 variable through `optimizer.apply_gradients` and
compares the total displacement of the variable with the reference's.
"""

import functools

import keras
import numpy as np
import pytest

from labkit import optimizers

STEPS = 5
SHAPE = (3, 2)
# (rtol, atol) of the displacement. In float32 the variable itself, of size
# about 2, carries rounding errors of a few 1e-7 after 5 steps. In float64,
# values that Keras rounds through float32 (the learning rate, a default
# such as 0.002) leave relative errors of up to about 5e-8.
TOLERANCES = {"float32": (1e-5, 1e-6), "float64": (1e-7, 1e-12)}


def _initial_and_gradients():
    rng = np.random.default_rng(1234)
    initial = rng.normal(size=SHAPE)
    gradients = [rng.normal(size=SHAPE) for _ in range(STEPS)]
    return initial, gradients


# NumPy references. Each takes the initial variable and the gradients in
# float64 and returns the variable after the last step.


def sgd_reference(theta, gradients, learning_rate, momentum, nesterov):
    """Robbins-Monro SGD. With momentum, Polyak's heavy ball or Nesterov's
    look-ahead, in the velocity form Keras uses."""
    theta = theta.copy()
    velocity = np.zeros_like(theta)
    for g in gradients:
        if momentum == 0:
            theta -= learning_rate * g
            continue
        velocity = momentum * velocity - learning_rate * g
        if nesterov:
            theta += momentum * velocity - learning_rate * g
        else:
            theta += velocity
    return theta


def adagrad_reference(
    theta, gradients, learning_rate, initial_accumulator_value, epsilon,
    epsilon_placement,
):
    """Duchi et al. (2011) diagonal Adagrad, with epsilon inside the square
    root (Keras 3) or outside it (Keras 2.0 and the paper)."""
    theta = theta.copy()
    accumulator = np.full_like(theta, initial_accumulator_value)
    for g in gradients:
        accumulator += g**2
        if epsilon_placement == "inside_sqrt":
            theta -= learning_rate * g / np.sqrt(accumulator + epsilon)
        else:
            theta -= learning_rate * g / (np.sqrt(accumulator) + epsilon)
    return theta


def adam_reference(
    theta, gradients, learning_rate, beta_1, beta_2, epsilon, amsgrad=False,
    weight_decay=0.0,
):
    """Kingma and Ba (2015) Adam in the paper's efficient form, where the
    bias corrections fold into the step size and epsilon is "epsilon hat".

    A non-zero `weight_decay` gives AdamW as Keras applies it (Loshchilov
    and Hutter's decoupled decay, scaled by the learning rate) before the
    Adam step.
    """
    theta = theta.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    v_max = np.zeros_like(theta)
    for t, g in enumerate(gradients, start=1):
        theta -= learning_rate * weight_decay * theta
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        v_max = np.maximum(v_max, v)
        denominator = np.sqrt(v_max if amsgrad else v) + epsilon
        step = learning_rate * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
        theta -= step * m / denominator
    return theta


def rmsprop_reference(
    theta, gradients, learning_rate, rho, epsilon, momentum=0.0,
    centered=False,
):
    """Hinton's RMSprop with Keras' epsilon inside the square root, and
    Keras' optional momentum and centring."""
    theta = theta.copy()
    mean_square = np.zeros_like(theta)
    mean = np.zeros_like(theta)
    velocity = np.zeros_like(theta)
    for g in gradients:
        mean_square = rho * mean_square + (1 - rho) * g**2
        variance = mean_square
        if centered:
            mean = rho * mean + (1 - rho) * g
            variance = mean_square - mean**2
        step = learning_rate * g / np.sqrt(variance + epsilon)
        velocity = momentum * velocity + step
        theta -= velocity
    return theta


def adamax_reference(theta, gradients, learning_rate, beta_1, beta_2, epsilon):
    """Adamax, Kingma and Ba (2015) section 7.1, with Keras' epsilon."""
    theta = theta.copy()
    m = np.zeros_like(theta)
    u = np.zeros_like(theta)
    for t, g in enumerate(gradients, start=1):
        m = beta_1 * m + (1 - beta_1) * g
        u = np.maximum(beta_2 * u, np.abs(g))
        theta -= learning_rate / (1 - beta_1**t) * m / (u + epsilon)
    return theta


# Keras 3's Nadam rounds its schedule constant 0.96 to float32 first.
MOMENTUM_DECAY = float(np.float32(0.96))


def nadam_reference(theta, gradients, learning_rate, beta_1, beta_2, epsilon):
    """Dozat's Nadam with the momentum schedule 0.96**t of Keras 3."""
    theta = theta.copy()
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    momentum_product = 1.0
    for t, g in enumerate(gradients, start=1):
        mu_t = beta_1 * (1 - 0.5 * MOMENTUM_DECAY**t)
        mu_next = beta_1 * (1 - 0.5 * MOMENTUM_DECAY ** (t + 1))
        momentum_product *= mu_t
        m = beta_1 * m + (1 - beta_1) * g
        v = beta_2 * v + (1 - beta_2) * g**2
        m_hat = mu_next * m / (1 - momentum_product * mu_next) + (
            (1 - mu_t) * g / (1 - momentum_product)
        )
        v_hat = v / (1 - beta_2**t)
        theta -= learning_rate * m_hat / (np.sqrt(v_hat) + epsilon)
    return theta


def adadelta_reference(theta, gradients, learning_rate, rho, epsilon):
    """Zeiler's Adadelta, scaled by Keras' learning rate."""
    theta = theta.copy()
    mean_square_gradient = np.zeros_like(theta)
    mean_square_step = np.zeros_like(theta)
    for g in gradients:
        mean_square_gradient = rho * mean_square_gradient + (1 - rho) * g**2
        step = -np.sqrt(mean_square_step + epsilon) / np.sqrt(
            mean_square_gradient + epsilon
        ) * g
        mean_square_step = rho * mean_square_step + (1 - rho) * step**2
        theta += learning_rate * step
    return theta


def lion_reference(theta, gradients, learning_rate, beta_1, beta_2,
                   weight_decay):
    """Chen et al. (2023) Lion with decoupled weight decay."""
    theta = theta.copy()
    m = np.zeros_like(theta)
    for g in gradients:
        theta -= learning_rate * weight_decay * theta
        theta -= learning_rate * np.sign(beta_1 * m + (1 - beta_1) * g)
        m = beta_2 * m + (1 - beta_2) * g
    return theta


# Hyper-parameters set here are exact binary fractions (0.875 = 7/8,
# 0.998046875 = 1 - 2**-9). Keras rounds some of them through float32 even
# for a float64 variable, and exact values keep that rounding from blurring
# the float64 comparison.
ADAM_ARGS = {"learning_rate": 0.0625, "beta_1": 0.875,
             "beta_2": 0.998046875, "epsilon": 1e-7}
KERAS3_ADAGRAD = {"initial_accumulator_value": 0.1, "epsilon": 1e-7,
                  "epsilon_placement": "inside_sqrt"}
KERAS2017_ADAGRAD = {"initial_accumulator_value": 0.0, "epsilon": 1e-8,
                     "epsilon_placement": "outside_sqrt"}

# id: (name, preset, overrides passed to get(), reference with its values).
CASES = {
    "sgd": (
        "sgd", "keras3", {"learning_rate": 0.125},
        functools.partial(
            sgd_reference, learning_rate=0.125, momentum=0.0, nesterov=False
        ),
    ),
    "momentum": (
        "momentum", "keras3", {"learning_rate": 0.0625, "momentum": 0.875},
        functools.partial(
            sgd_reference, learning_rate=0.0625, momentum=0.875,
            nesterov=False,
        ),
    ),
    "nesterov": (
        "nesterov", "keras3", {"learning_rate": 0.0625, "momentum": 0.75},
        functools.partial(
            sgd_reference, learning_rate=0.0625, momentum=0.75, nesterov=True
        ),
    ),
    # Only the learning rate is raised, so that 5 steps move the variable
    # far enough to test. The other values are each preset's defaults.
    "adagrad-keras3": (
        "adagrad", "keras3", {"learning_rate": 0.125},
        functools.partial(adagrad_reference, learning_rate=0.125,
                          **KERAS3_ADAGRAD),
    ),
    "adagrad-keras2017": (
        "adagrad", "keras2017", {"learning_rate": 0.125},
        functools.partial(adagrad_reference, learning_rate=0.125,
                          **KERAS2017_ADAGRAD),
    ),
    "adam": (
        "adam", "keras3", ADAM_ARGS,
        functools.partial(adam_reference, **ADAM_ARGS),
    ),
    "adam-amsgrad": (
        "adam", "keras3", {**ADAM_ARGS, "beta_2": 0.5, "amsgrad": True},
        functools.partial(
            adam_reference, **{**ADAM_ARGS, "beta_2": 0.5}, amsgrad=True
        ),
    ),
    "adamw": (
        "adamw", "keras3", {**ADAM_ARGS, "weight_decay": 0.125},
        functools.partial(adam_reference, **ADAM_ARGS, weight_decay=0.125),
    ),
    "rmsprop": (
        "rmsprop", "keras3", {"learning_rate": 0.015625, "rho": 0.875},
        functools.partial(
            rmsprop_reference, learning_rate=0.015625, rho=0.875,
            epsilon=1e-7,
        ),
    ),
    "rmsprop-centered-momentum": (
        "rmsprop", "keras3",
        {"learning_rate": 0.015625, "rho": 0.875, "momentum": 0.5,
         "centered": True},
        functools.partial(
            rmsprop_reference, learning_rate=0.015625, rho=0.875,
            epsilon=1e-7, momentum=0.5, centered=True,
        ),
    ),
    "adamax": (
        "adamax", "keras2017", {"beta_1": 0.875, "beta_2": 0.998046875},
        functools.partial(adamax_reference, learning_rate=0.002,
                          beta_1=0.875, beta_2=0.998046875, epsilon=1e-8),
    ),
    "nadam": (
        "nadam", "keras3", ADAM_ARGS,
        functools.partial(nadam_reference, **ADAM_ARGS),
    ),
    "adadelta": (
        "adadelta", "keras2017", {},
        functools.partial(adadelta_reference, learning_rate=1.0, rho=0.95,
                          epsilon=1e-8),
    ),
    "lion": (
        "lion", "keras3",
        {"learning_rate": 0.015625, "beta_1": 0.875, "beta_2": 0.984375,
         "weight_decay": 0.5},
        functools.partial(lion_reference, learning_rate=0.015625,
                          beta_1=0.875, beta_2=0.984375, weight_decay=0.5),
    ),
}


def _run_keras(optimizer, initial, gradients, dtype):
    variable = keras.Variable(initial.astype(dtype), dtype=dtype)
    for gradient in gradients:
        tensor = keras.ops.convert_to_tensor(gradient.astype(dtype))
        optimizer.apply_gradients([(tensor, variable)])
    return keras.ops.convert_to_numpy(variable).astype(np.float64)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", list(CASES))
def test_update_matches_reference(case, dtype):
    name, preset, overrides, reference = CASES[case]
    initial, gradients = _initial_and_gradients()

    optimizer = optimizers.get(name, preset, **overrides)
    result = _run_keras(optimizer, initial, gradients, dtype)
    expected = reference(initial, gradients)

    np.testing.assert_allclose(
        result - initial,
        expected - initial,
        rtol=TOLERANCES[dtype][0],
        atol=TOLERANCES[dtype][1],
        err_msg=f"{name} ({preset}) after {STEPS} steps in {dtype}",
    )


def test_adagrad_presets_differ_in_formula():
    # With equal learning rate, epsilon and starting accumulator, only the
    # placement of epsilon differs. Gradients of 1e-4 to 5e-4 make the
    # squared sum comparable to epsilon, where the two forms disagree.
    initial, _ = _initial_and_gradients()
    gradients = [np.full(SHAPE, 1e-4 * step) for step in range(1, STEPS + 1)]
    shared = {"learning_rate": 0.01, "initial_accumulator_value": 0.0,
              "epsilon": 1e-8}
    inside = optimizers.get("adagrad", "keras3", **shared)
    outside = optimizers.get("adagrad", "keras2017", **shared)

    inside_result = _run_keras(inside, initial, gradients, "float64")
    outside_result = _run_keras(outside, initial, gradients, "float64")

    assert type(inside) is keras.optimizers.Adagrad
    assert type(outside) is optimizers.Adagrad2017
    np.testing.assert_allclose(
        inside_result - initial,
        adagrad_reference(initial, gradients, epsilon_placement="inside_sqrt",
                          **shared) - initial,
        rtol=1e-7,
    )
    np.testing.assert_allclose(
        outside_result - initial,
        adagrad_reference(initial, gradients,
                          epsilon_placement="outside_sqrt", **shared)
        - initial,
        rtol=1e-7,
    )
    ratio = (outside_result - initial) / (inside_result - initial)
    assert np.all(ratio > 1.1), ratio


def test_adagrad_presets_differ_at_defaults():
    initial, gradients = _initial_and_gradients()

    keras3 = _run_keras(
        optimizers.get("adagrad", "keras3"), initial, gradients, "float32"
    )
    keras2017 = _run_keras(
        optimizers.get("adagrad", "keras2017"), initial, gradients, "float32"
    )

    assert not np.allclose(keras3, keras2017, rtol=1e-3, atol=0)
