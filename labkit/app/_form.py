"""The training form: optimizers, data, model and limits, checked before any work.

`TrainingForm` contains the controls of a comparison. `request()` turns them
into a `TrainingRequest` after checking every value with the same code
that training uses (`build_run_configs`, hence the optimizer registry) and
against the instructor's caps, so an invalid request is rejected in the
page with the registry's message and nothing starts.
"""

import dataclasses
import html
import warnings

import ipywidgets

from labkit.app import _kernel  # noqa: F401, I001 (sets the environment before Keras loads)
from labkit import models
from labkit.app._controls import OptimizerPanel
from labkit.data import CLASS_COUNTS, DATASETS, TRAINING_SET_SIZES, locate
from labkit.errors import ConfigError, LabkitError
from labkit.optimizers import PRESETS, names
from labkit.training import build_run_configs

DEFAULT_OPTIMIZERS = ("sgd", "adam")
VALIDATION_CHOICES = (
    ("20% of the training images", 0.2),
    ("test set (as in the 2017 study)", "test"),
    ("none", None),
)


@dataclasses.dataclass(frozen=True)
class TrainingRequest:
    """A checked comparison, ready for `labkit.training.compare`.

    Attributes:
        optimizers: Registered optimizer names, in the order chosen.
        seeds: Seeds; every optimizer runs once per seed.
        hyperparameters: Values per optimizer, as typed and validated.
        options: The other keyword arguments of `compare`: `dataset`,
            `model`, `preset`, `epochs`, `batch_size`, `train_size`,
            `validation`, `augmentation`.
        notes: Warnings the registry raised while checking, such as a
            preset falling back to the Keras 3 defaults.
    """

    optimizers: tuple
    seeds: tuple
    hyperparameters: dict
    options: dict
    notes: tuple = ()


def parse_seeds(text):
    """Parse seeds typed as `"0, 1, 2"` into a tuple of ints.

    Raises:
        ConfigError: if an item is not a non-negative integer.
    """
    seeds = []
    for item in text.replace(";", ",").split(","):
        item = item.strip()
        if not item:
            continue
        # ASCII digits only: str.isdigit() also accepts "²", which int() rejects.
        if not (item.isascii() and item.isdigit()):
            raise ConfigError(
                f"Seeds must be non-negative integers separated by commas, such as 0, 1, 2. "
                f"Received: seeds={text!r}"
            )
        seeds.append(int(item))
    if not seeds:
        raise ConfigError("Give at least one seed, such as 0.")
    return tuple(seeds)


def check_caps(request, settings):
    """Check a request against the instructor's per-session caps.

    Raises:
        ConfigError: naming the value, the cap and what to change.
    """
    options = request.options
    caps = (
        ("epochs", options["epochs"], settings.max_epochs),
        ("number of seeds", len(request.seeds), settings.max_seeds),
        ("train_size", options["train_size"], settings.max_train_size),
    )
    for name, value, cap in caps:
        if value > cap:
            raise ConfigError(
                f"{name} must be at most {cap} on this server (the instructor's limit). "
                f"Received: {name}={value}. Lower it and press Train again."
            )


def check_train_size(dataset, train_size):
    """Check a training subset against the dataset's published training set.

    Raises:
        ConfigError: naming the value and the valid range, before any file
            is read.
    """
    if train_size is None or dataset not in TRAINING_SET_SIZES:
        return
    low, high = CLASS_COUNTS[dataset], TRAINING_SET_SIZES[dataset]
    if not low <= train_size <= high:
        raise ConfigError(
            f"Training images must be from {low} (one per class) to {high:,} (the whole "
            f"{dataset} training set). Received: {train_size}. Change it and press Train again."
        )


def dataset_label(name, data_dir=None):
    """Return the dropdown label of a dataset, saying whether it is on disk."""
    where = "offline" if locate(name, data_dir=data_dir) is not None else "needs download"
    return f"{name} ({where})"


class TrainingForm:
    """The controls of one comparison, generated from the registries.

    Args:
        settings: The server's `AppSettings`, for the caps and data folder.

    Attributes:
        widget: The form to display.
        panels: Mapping from optimizer name to its `OptimizerPanel`; a panel
            keeps its values while its optimizer is deselected.
    """

    def __init__(self, settings):
        self.settings = settings
        style = {"description_width": "110px"}
        self.optimizers = ipywidgets.SelectMultiple(
            options=names(), value=DEFAULT_OPTIMIZERS, rows=8, description="Optimizers",
            style=style,
        )
        self.optimizers.add_class("labkit-optimizers")
        available = [name for name in DATASETS if locate(name, data_dir=settings.data_dir)]
        self.dataset = ipywidgets.Dropdown(
            options=[(dataset_label(name, settings.data_dir), name) for name in DATASETS],
            value=available[0] if available else DATASETS[0],
            description="Dataset", style=style,
        )
        self.model = ipywidgets.Dropdown(
            options=models.names(), value="mlp", description="Model", style=style
        )
        self.preset = ipywidgets.Dropdown(
            options=PRESETS, value="keras3", description="Preset", style=style
        )
        self.epochs = ipywidgets.IntText(
            value=min(3, settings.max_epochs), description="Epochs", style=style,
            tooltip=f"at most {settings.max_epochs} on this server",
        )
        self.batch_size = ipywidgets.IntText(value=32, description="Batch size", style=style)
        self.seeds = ipywidgets.Text(
            value="0", description="Seeds", style=style, continuous_update=False,
            tooltip=f"comma-separated, at most {settings.max_seeds} on this server",
        )
        self.train_size = ipywidgets.IntText(
            value=min(1000, settings.max_train_size), description="Training images", style=style,
            tooltip=f"at most {settings.max_train_size} on this server",
        )
        self.validation = ipywidgets.Dropdown(
            options=VALIDATION_CHOICES, value=0.2, description="Validation", style=style
        )
        for control in (self.epochs, self.seeds, self.train_size):
            control.add_class(f"labkit-{control.description.lower().replace(' ', '-')}")
        caps = ipywidgets.HTML(
            f"<small>Limits on this server: {settings.max_epochs} epochs, "
            f"{settings.max_seeds} seeds, {settings.max_train_size:,} training images.</small>"
        )
        self.panels = {}
        self.panel_box = ipywidgets.VBox()
        self.optimizers.observe(self._show_panels, names="value")
        self.preset.observe(self._on_preset, names="value")
        self._show_panels()
        self.widget = ipywidgets.VBox([
            self.optimizers, self.dataset, self.model, self.preset, self.epochs,
            self.batch_size, self.seeds, self.train_size, self.validation, caps,
            self.panel_box,
        ])

    def _show_panels(self, _change=None):
        children = []
        for name in self.optimizers.value:
            if name not in self.panels:
                self.panels[name] = OptimizerPanel(name, self.preset.value)
            children.append(self.panels[name].widget)
        self.panel_box.children = children

    def _on_preset(self, change):
        for panel in self.panels.values():
            panel.set_preset(change["new"])

    def request(self):
        """Check the form and return a `TrainingRequest`.

        Raises:
            LabkitError: with the registry's or the cap's message for the
                first invalid value; nothing has been loaded or started.
        """
        optimizers = tuple(self.optimizers.value)
        if not optimizers:
            raise ConfigError("Choose at least one optimizer in the Optimizers list.")
        for name in optimizers:
            errors = self.panels[name].errors()
            if errors:
                raise ConfigError(errors[0])
        hyperparameters = {name: self.panels[name].values() for name in optimizers}
        options = {
            "dataset": self.dataset.value,
            "model": self.model.value,
            "preset": self.preset.value,
            "epochs": self.epochs.value,
            "batch_size": self.batch_size.value,
            "train_size": self.train_size.value,
            "validation": self.validation.value,
            "augmentation": False,
        }
        seeds = parse_seeds(self.seeds.value)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            build_run_configs(optimizers, seeds, hyperparameters, **options)
        notes = tuple(dict.fromkeys(str(warning.message) for warning in caught))
        request = TrainingRequest(optimizers, seeds, hyperparameters, options, notes)
        check_caps(request, self.settings)
        check_train_size(options["dataset"], options["train_size"])
        return request

    def check(self):
        """Return the message of the first invalid value, or `None`."""
        try:
            self.request()
        except LabkitError as error:
            return str(error)
        return None


def error_html(message):
    """Return an error message as HTML for a message widget."""
    return f'<span style="color:#D55E00">{html.escape(message)}</span>'


__all__ = ["TrainingForm", "TrainingRequest", "check_caps", "parse_seeds"]
