"""Adagrad as Keras 2.0 computed it: accumulators from 0, epsilon outside.

Keras 3's `keras.optimizers.Adagrad` starts its accumulators at
`initial_accumulator_value` (0.1 by default) and divides by
`sqrt(accumulator + epsilon)`. Keras 2.0 and Duchi et al. (2011) start at 0
and divide by `sqrt(accumulator) + epsilon`. This module provides the second
form, written with `keras.ops` only so that it runs on the TensorFlow, JAX
and PyTorch backends.
"""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="labkit")
class Adagrad2017(keras.optimizers.Optimizer):
    """Adagrad with epsilon outside the square root, as in Keras 2.0.

    Update rule, for each variable `theta` with gradient `g` at step `t`:

    ```
    n_t     = n_{t-1} + g_t ** 2            # n_0 = initial_accumulator_value
    theta_t = theta_{t-1} - lr * g_t / (sqrt(n_t) + epsilon)
    ```

    where `lr` is `learning_rate`, `n` is the per-element accumulator of
    squared gradients and `epsilon` is `epsilon`.

    Warning:
        The accumulator only grows, so the effective step `lr / sqrt(n_t)`
        shrinks at every step and training can stall long before a minimum.
        With accumulators starting at 0, the first step moves every element
        with a non-zero gradient by about `lr`, whatever the gradient's size.

    Args:
        learning_rate: Float > 0, the step size `lr`. Defaults to `0.01`,
            the Keras 2.0 default.
        epsilon: Float > 0, added to `sqrt(n_t)` so that an element whose
            gradients have all been 0 does not divide by 0. Defaults to
            `1e-8`, the Keras 2.0 default.
        initial_accumulator_value: Float >= 0, the starting value of every
            accumulator. Defaults to `0.0`, as in Keras 2.0.
        **kwargs: Generic arguments of `keras.optimizers.Optimizer`, such as
            `weight_decay`, `clipnorm` or `name`.

    Example:

    >>> optimizer = Adagrad2017(learning_rate=0.01)
    >>> variable = keras.Variable([1.0, 2.0])
    >>> optimizer.apply([ops.convert_to_tensor([0.5, -0.5])], [variable])

    Reference:
        Duchi, Hazan and Singer, "Adaptive Subgradient Methods for Online
        Learning and Stochastic Optimization", JMLR 12, 2011.
    """

    def __init__(
        self,
        learning_rate=0.01,
        epsilon=1e-8,
        initial_accumulator_value=0.0,
        name=None,
        **kwargs,
    ):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        if not epsilon > 0:
            raise ValueError(
                f"`epsilon` must be a float > 0. Received: epsilon={epsilon}"
            )
        if not initial_accumulator_value >= 0:
            raise ValueError(
                "`initial_accumulator_value` must be a float >= 0. Received: "
                f"initial_accumulator_value={initial_accumulator_value}"
            )
        self.epsilon = epsilon
        self.initial_accumulator_value = initial_accumulator_value

    def build(self, var_list):
        """Create one accumulator per variable, filled with the initial value."""
        if self.built:
            return
        super().build(var_list)
        self._accumulators = self.add_optimizer_variables(
            var_list,
            "accumulator",
            initializer=keras.initializers.Constant(
                self.initial_accumulator_value
            ),
        )

    def update_step(self, gradient, variable, learning_rate):
        """Add `g ** 2` to the accumulator, then step against `g`."""
        learning_rate = ops.cast(learning_rate, variable.dtype)
        gradient = ops.cast(gradient, variable.dtype)
        epsilon = ops.cast(self.epsilon, variable.dtype)
        accumulator = self._accumulators[self._get_variable_index(variable)]

        self.assign_add(accumulator, ops.square(gradient))
        denominator = ops.add(ops.sqrt(accumulator), epsilon)
        self.assign_sub(
            variable,
            ops.divide(ops.multiply(learning_rate, gradient), denominator),
        )

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "epsilon": self.epsilon,
                "initial_accumulator_value": self.initial_accumulator_value,
            }
        )
        return config
