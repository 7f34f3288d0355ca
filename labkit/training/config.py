"""Run configuration: everything that decides what one training run does.

A `RunConfig` round-trips through JSON and is stored with every run, so a
stored history can always be traced back to the settings that produced it.
"""

import dataclasses
import inspect
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

# keras.utils.set_random_seed and numpy's legacy seeding accept 0..2**32-1.
MAX_SEED = 2**32 - 1

# Image shape and class count of each dataset, to build a model once and so
# check its options before any data is loaded.
DATASET_SHAPES = {
    "cifar10": ((32, 32, 3), 10),
    "cifar100": ((32, 32, 3), 100),
    "fashion_mnist": ((28, 28, 1), 10),
    "mnist": ((28, 28, 1), 10),
}


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
        seed: Seed of weights, data order, dropout and augmentation, from 0
            to `MAX_SEED` (2**32 - 1).
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
        _check_int("seed", self.seed, 0, MAX_SEED)
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
        _check_model_option_names(self.model, self.model_options)
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


def _check_int(name, value, minimum, maximum=None):
    rule = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    message = f"`{name}` must be an integer {rule}. Received: {name}={value!r}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ConfigError(message)
    if value < minimum or (maximum is not None and value > maximum):
        raise ConfigError(message)


def _model_option_names(model):
    builder = models.MODELS[model]
    return [
        parameter.name
        for parameter in inspect.signature(builder).parameters.values()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]


def _check_model_option_names(model, options):
    if not isinstance(options, dict):
        raise ConfigError(
            "`model_options` must be a dict of keyword arguments of the model "
            f"builder, such as {{'width': 0.5}}. Received: model_options={options!r}"
        )
    accepted = _model_option_names(model)
    unknown = sorted(str(key) for key in options if key not in accepted)
    if unknown:
        raise ConfigError(
            f"Unknown option for model {model!r}: {', '.join(unknown)}. "
            f"Accepted options: {', '.join(accepted)}. "
            f"Received: model_options={options!r}"
        )


def check_model_options(model, options, dataset="cifar10"):
    """Build a model once, so that an invalid option fails before any work.

    The model is built for the dataset's image shape and then dropped; the
    Keras session is left as it is.

    Args:
        model: A registered model name.
        options: Keyword arguments of the model builder.
        dataset: The dataset name, which fixes the input shape. Defaults to
            `"cifar10"`.

    Raises:
        ConfigError: if an option is unknown or its value is invalid.
    """
    _check_model_option_names(model, options)
    input_shape, num_classes = DATASET_SHAPES[dataset]
    try:
        models.build_model(model, input_shape, num_classes, **options)
    except ConfigError:
        raise
    except (TypeError, ValueError) as error:
        raise ConfigError(
            f"Invalid option for model {model!r}: {error}. "
            f"Received: model_options={options!r}. "
            f"`help(labkit.models.{model})` describes each option."
        ) from error


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


def build_run_configs(optimizers, seeds, hyperparameters=None, **settings):
    """Expand optimizers x seeds into validated `RunConfig`s, seed-major.

    Args:
        optimizers: Registered optimizer names; each name at most once.
        seeds: Integer seeds; each seed at most once.
        hyperparameters: Mapping from optimizer name to its overrides, such
            as `{"adam": {"learning_rate": 3e-4}}`.
        **settings: The other `RunConfig` fields, shared by every run.

    Returns:
        A list of `RunConfig`, every optimizer for the first seed first.

    Raises:
        ConfigError, UnknownNameError, InvalidHyperParameterError: before any
            work, if any setting of any run is invalid. Model options other
            than the defaults are checked by building the model once.
    """
    optimizers = [optimizers] if isinstance(optimizers, str) else list(optimizers)
    seeds = [seeds] if isinstance(seeds, int) else list(seeds)
    hyperparameters = dict(hyperparameters or {})
    if not optimizers:
        raise ConfigError("Name at least one optimizer, such as optimizers=['sgd', 'adam'].")
    if not seeds:
        raise ConfigError("Give at least one seed, such as seeds=[0].")
    for label, values in (("optimizer", optimizers), ("seed", seeds)):
        repeated = sorted({str(v) for v in values if values.count(v) > 1})
        if repeated:
            raise ConfigError(
                f"Each {label} may appear once. Received it more than once: "
                f"{', '.join(repeated)}"
            )
    extra = sorted(set(hyperparameters) - set(optimizers))
    if extra:
        raise ConfigError(
            f"Hyper-parameters were given for {', '.join(extra)}, which is not "
            f"among the optimizers compared ({', '.join(optimizers)}). Add it "
            "to the optimizers or drop its settings."
        )

    configs = [
        RunConfig(
            optimizer=name,
            seed=seed,
            hyperparameters=dict(hyperparameters.get(name, {})),
            **settings,
        )
        for seed in seeds
        for name in optimizers
    ]
    for config in configs:
        config.effective_hyperparameters()
    # Every run shares the model and its options; the defaults need no check.
    first = configs[0]
    if first.model_options:
        check_model_options(first.model, first.model_options, first.dataset)
    return configs
