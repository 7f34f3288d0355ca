"""Run configuration: everything that decides what one training run does.

A `RunConfig` round-trips through JSON and is stored with every run, so a
stored history can always be traced back to the settings that produced it.
"""

import dataclasses
import json
import math
import numbers

from labkit import models
from labkit.data import DATASETS
from labkit.errors import ConfigError, UnknownNameError
from labkit.optimizers import PRESETS, resolve

VALIDATION_HELP = (
    'None (no validation set), "test" (the test set serves as validation, '
    "as in the 2017 study), a fraction in (0, 1) of the training set, or a "
    "number of training images to hold out"
)


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """Settings of one training run: one optimizer, one seed.

    Attributes:
        optimizer: Registered optimizer name, such as `"adam"`.
        dataset: Dataset name, such as `"cifar10"`.
        model: Registered model name.
        model_options: Keyword arguments of the model builder.
        preset: Optimizer defaults, `"keras3"` or `"keras2017"`.
        hyperparameters: Overrides of the preset's hyper-parameters.
        epochs: Number of epochs to train.
        batch_size: Images per training step.
        seed: Seed of weights, data order, dropout and augmentation.
        augmentation: Whether to shift and flip training images.
        validation: See `VALIDATION_HELP`.
        train_size: Number of training images, drawn as evenly as possible
            from every class; `None` uses the whole set.
        evaluate_test: Whether to evaluate the test set every epoch.
        eval_batch_size: Images per evaluation step; evaluation has no
            dropout, so it only changes speed.
    """

    optimizer: str
    dataset: str = "cifar10"
    model: str = "cifar10_cnn"
    model_options: dict = dataclasses.field(default_factory=dict)
    preset: str = "keras3"
    hyperparameters: dict = dataclasses.field(default_factory=dict)
    epochs: int = 200
    batch_size: int = 32
    seed: int = 0
    augmentation: bool = True
    validation: object = "test"
    train_size: int | None = None
    evaluate_test: bool = False
    eval_batch_size: int = 256

    def __post_init__(self):
        _check_int("epochs", self.epochs, 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("eval_batch_size", self.eval_batch_size, 1)
        _check_int("seed", self.seed, 0)
        if self.train_size is not None:
            _check_int("train_size", self.train_size, 1)
        if self.dataset not in DATASETS:
            raise UnknownNameError(
                f"Unknown dataset {self.dataset!r}. "
                f"Known datasets: {', '.join(DATASETS)}."
            )
        if self.model not in models.MODELS:
            raise UnknownNameError(
                f"Unknown model {self.model!r}. "
                f"Known models: {', '.join(models.names())}."
            )
        if self.preset not in PRESETS:
            raise ConfigError(
                f"preset must be one of {', '.join(PRESETS)}. "
                f"Received: preset={self.preset!r}"
            )
        _check_validation(self.validation)
        for flag in ("augmentation", "evaluate_test"):
            if not isinstance(getattr(self, flag), bool):
                raise ConfigError(
                    f"`{flag}` must be True or False. "
                    f"Received: {flag}={getattr(self, flag)!r}"
                )

    def effective_hyperparameters(self):
        """Return the optimizer's hyper-parameters after preset and overrides.

        Raises:
            InvalidHyperParameterError: if an override is invalid.
            UnknownNameError: if the optimizer is not registered.
        """
        return resolve(self.optimizer, preset=self.preset, **self.hyperparameters)

    def to_dict(self):
        """Return the configuration as plain JSON-serialisable values."""
        return dataclasses.asdict(self)

    def to_json(self):
        """Return the configuration as a JSON string."""
        return json.dumps(self.to_dict(), sort_keys=True)

    @classmethod
    def from_dict(cls, values):
        """Build a configuration from `to_dict()` output.

        Raises:
            ConfigError: if a key is unknown or a value is invalid.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ConfigError(
                f"Unknown run configuration keys: {', '.join(unknown)}. "
                f"Known keys: {', '.join(sorted(known))}."
            )
        return cls(**values)

    @classmethod
    def from_json(cls, text):
        """Build a configuration from `to_json()` output."""
        return cls.from_dict(json.loads(text))


def _check_int(name, value, minimum):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(
            f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}"
        )
    if value < minimum:
        raise ConfigError(
            f"`{name}` must be an integer >= {minimum}. Received: {name}={value!r}"
        )


def _check_validation(value):
    if value is None or value == "test":
        return
    valid_number = (
        not isinstance(value, bool)
        and isinstance(value, numbers.Real)
        and math.isfinite(value)
        and (0 < value < 1 or (float(value).is_integer() and value >= 1))
    )
    if not valid_number:
        raise ConfigError(
            f"validation must be {VALIDATION_HELP}. Received: validation={value!r}"
        )


def parse_validation(text):
    """Parse a validation setting as typed on a command line.

    Args:
        text: `"none"`, `"test"`, a fraction such as `"0.1"` or a count such
            as `"5000"`.

    Returns:
        `None`, `"test"`, a float or an int.

    Raises:
        ConfigError: if the text is none of these.
    """
    lowered = text.strip().lower()
    if lowered in ("none", "off", ""):
        return None
    if lowered == "test":
        return "test"
    try:
        number = float(lowered)
    except ValueError:
        number = None
    if number is not None and number.is_integer() and number >= 1:
        number = int(number)
    try:
        if number is None:
            raise ConfigError(text)
        _check_validation(number)
    except ConfigError:
        raise ConfigError(
            f"validation must be {VALIDATION_HELP}. Received: validation={text!r}"
        ) from None
    return number
