"""The runner: train one model per optimizer and seed, paired, and keep it all.

For a given seed every optimizer starts from the same initial weights and
sees the same data order, dropout masks and augmentation draws, so results
do not depend on the order of the runs. Every finished epoch is committed
to the results store before anything else sees it, and a checkpoint after
each epoch lets a stopped or killed run resume from its last finished epoch.
"""

import dataclasses
import json
import logging
import math
import pathlib
import threading
import time

import keras
import numpy as np

from labkit import models
from labkit.augmentation import build_augmentation
from labkit.data import load_dataset
from labkit.errors import ConfigError, LabkitError
from labkit.optimizers import get as get_optimizer
from labkit.training import checkpoints
from labkit.training.callbacks import EpochMonitor
from labkit.training.config import RunConfig
from labkit.training.environment import describe_environment
from labkit.training.results import ComparisonResult, write_outputs
from labkit.training.sinks import RunInfo, SinkList
from labkit.training.store import DONE_STATUSES, ResultsStore, sqlite_url

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
STORE_FILE = "results.db"
DEFAULT_OPTIMIZERS = ("sgd", "adam", "adagrad")


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
            work, if any setting of any run is invalid.
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
    return configs


def build_training_model(config, input_shape, num_classes):
    """Build and compile the model of a run, augmentation included.

    The global seeds are reset first, so two calls with the same seed give
    identical initial weights, dropout and augmentation draws.
    """
    keras.backend.clear_session()
    keras.utils.set_random_seed(config.seed)
    network = models.build_model(config.model, input_shape, num_classes, **config.model_options)
    layers = [keras.Input(shape=tuple(input_shape))]
    if config.augmentation:
        layers.append(build_augmentation(seed=config.seed))
    layers.append(network)
    model = keras.Sequential(layers, name=f"{config.model}_training")
    model.compile(
        optimizer=get_optimizer(config.optimizer, preset=config.preset, **config.hyperparameters),
        loss="sparse_categorical_crossentropy",
        metrics=["accuracy"],
    )
    return model


def epoch_order(seed, epoch, size):
    """Return the shuffled order of the training set for one epoch.

    It depends only on the seed and the epoch, never on the optimizer or on
    how many epochs ran before, so paired and resumed runs see the same data
    in the same order.
    """
    return np.random.default_rng([seed, epoch]).permutation(size)


class _Comparison:
    """One comparison's store, data, sinks and checkpoint folder."""

    def __init__(self, store, comparison_id, output_dir, data, sinks, stop_event):
        self.store = store
        self.comparison_id = comparison_id
        self.output_dir = pathlib.Path(output_dir)
        self.checkpoint_dir = self.output_dir / "checkpoints"
        self.data = data
        self.sinks = SinkList(sinks)
        self.stop_event = stop_event
        self.dataset = None

    def run_all(self, run_rows):
        infos = [self._run_info(row, len(run_rows)) for row in run_rows]
        self.sinks.dispatch("on_comparison_begin", self.comparison_id, infos)
        try:
            for row, info in zip(run_rows, infos):
                if row["status"] in DONE_STATUSES:
                    continue
                if self.stop_event.is_set():
                    break
                self.dataset = self.data.for_config(info.config)
                self._train(info)
                write_outputs(self.store, self.comparison_id, self.output_dir)
        finally:
            write_outputs(self.store, self.comparison_id, self.output_dir)
            self.sinks.dispatch("on_comparison_end", self.comparison_id)

    def _run_info(self, row, total):
        config = RunConfig.from_json(row["config"])
        steps = math.ceil(self.data.train_images(config) / config.batch_size)
        return RunInfo(
            run_id=row["id"],
            comparison_id=self.comparison_id,
            position=row["position"],
            total_runs=total,
            config=config,
            hyperparameters=row["hyperparameters"],
            steps_per_epoch=steps,
        )

    def _train(self, info):
        config = info.config
        model, start_epoch = self._model_for(info)
        info = dataclasses.replace(info, start_epoch=start_epoch)
        self.store.set_status(info.run_id, "running")
        self.sinks.dispatch("on_run_begin", info)
        status, message = "failed", ""
        try:
            status, message = self._epochs(model, info, start_epoch)
        except KeyboardInterrupt:
            status, message = "stopped", "Interrupted; resume continues from the last finished epoch."
            raise
        except Exception as error:
            logger.exception("Run %s (%s, seed %s) failed.", info.run_id, config.optimizer, config.seed)
            status, message = "failed", f"{type(error).__name__}: {error}"
        finally:
            self.store.set_status(info.run_id, status, message)
            self.sinks.dispatch("on_run_end", info, status, message)

    def _model_for(self, info):
        dataset = self.dataset
        found = checkpoints.latest(self.checkpoint_dir, info.run_id)
        if found is None:
            removed = self.store.truncate_epochs(info.run_id, 0)
            if removed:
                logger.warning("Run %s had %d epochs but no checkpoint; it starts again.", info.run_id, removed)
            return build_training_model(info.config, dataset.input_shape, dataset.num_classes), 0
        keras.backend.clear_session()
        model, epoch = checkpoints.load(found[1])
        removed = self.store.truncate_epochs(info.run_id, epoch)
        logger.info(
            "Resuming run %s after epoch %d (%d later epochs dropped to be trained again).",
            info.run_id, epoch, removed,
        )
        return model, epoch

    def _epochs(self, model, info, start_epoch):
        config = info.config
        dataset = self.dataset
        on_batch = None
        if self.sinks.wants_batches:
            current = {"epoch": start_epoch + 1}

            def on_batch(batch, logs):
                self.sinks.dispatch("on_batch_end", info, current["epoch"], batch, logs)

        monitor = EpochMonitor(self.stop_event, on_batch=on_batch)
        for epoch in range(start_epoch + 1, config.epochs + 1):
            if self.stop_event.is_set():
                return "stopped", f"Stopped before epoch {epoch}."
            if on_batch is not None:
                current["epoch"] = epoch
            order = epoch_order(config.seed, epoch, len(dataset.x_train))
            monitor.reset()
            model.fit(
                dataset.x_train[order],
                dataset.y_train[order],
                batch_size=config.batch_size,
                epochs=1,
                shuffle=False,
                verbose=0,
                callbacks=[monitor],
            )
            if monitor.diverged_at is not None:
                batch, loss = monitor.diverged_at
                return "diverged", (
                    f"Training loss became {loss} at epoch {epoch}, step {batch + 1}; "
                    f"the {epoch - 1} earlier epochs are kept."
                )
            if monitor.stopped:
                return "stopped", (
                    f"Stopped during epoch {epoch}; its partial result is dropped "
                    f"and epochs 1-{epoch - 1} are kept."
                )
            row = self._evaluate(model, config, epoch, monitor)
            row["includes_compile"] = epoch == start_epoch + 1
            self.store.add_epoch(info.run_id, row)
            checkpoints.save(model, self.checkpoint_dir, info.run_id, epoch)
            self.sinks.dispatch("on_epoch_end", info, row)
            if not math.isfinite(row["loss"]):
                return "diverged", f"Training loss of epoch {epoch} is {row['loss']}."
        return "finished", ""

    def _evaluate(self, model, config, epoch, monitor):
        dataset = self.dataset
        row = {
            "epoch": epoch,
            "time_per_epoch_s": monitor.time_s,
            "loss": monitor.logs.get("loss", math.nan),
            "accuracy": monitor.logs.get("accuracy", math.nan),
            "learning_rate": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
        }
        started = time.perf_counter()
        if dataset.x_val is not None:
            scores = model.evaluate(
                dataset.x_val, dataset.y_val, batch_size=config.eval_batch_size,
                verbose=0, return_dict=True,
            )
            row["val_loss"] = float(scores["loss"])
            row["val_accuracy"] = float(scores["accuracy"])
        if config.evaluate_test:
            if config.validation == "test":
                row["test_loss"], row["test_accuracy"] = row["val_loss"], row["val_accuracy"]
            else:
                scores = model.evaluate(
                    dataset.x_test, dataset.y_test, batch_size=config.eval_batch_size,
                    verbose=0, return_dict=True,
                )
                row["test_loss"] = float(scores["loss"])
                row["test_accuracy"] = float(scores["accuracy"])
        row["eval_time_s"] = time.perf_counter() - started
        return row


class _DataSource:
    """The dataset of each run, loaded once per seed.

    The training subset and the validation split are drawn with the run's
    seed, so every optimizer of a seed trains on the same images and each
    seed on its own draw. When neither depends on the seed (no `train_size`
    and validation `None` or `"test"`), one load serves every seed.
    """

    def __init__(self, data_dir, download, loaded=None):
        self.data_dir = data_dir
        self.download = download
        self.fixed = loaded
        self._key = None
        self._dataset = None

    def for_config(self, config):
        if self.fixed is not None:
            return self.fixed
        depends_on_seed = config.train_size is not None or config.validation not in (None, "test")
        key = (config.dataset, config.train_size, config.validation,
               config.seed if depends_on_seed else None)
        if key != self._key:
            self._dataset = None  # release the previous arrays before loading
            self._dataset = load_dataset(
                config.dataset,
                data_dir=self.data_dir,
                train_size=config.train_size,
                validation=config.validation,
                seed=config.seed,
                download=self.download,
            )
            self._key = key
        return self._dataset

    def train_images(self, config):
        """Number of training images of a run, without loading its data."""
        dataset = self.fixed or self._dataset
        if dataset is None:
            dataset = self.for_config(config)
        return len(dataset.x_train)


def compare(
    optimizers=DEFAULT_OPTIMIZERS,
    *,
    seeds=(0,),
    hyperparameters=None,
    store=None,
    output_dir=None,
    name=None,
    sinks=(),
    stop_event=None,
    data_dir=None,
    download=True,
    dataset=None,
    **settings,
):
    """Train one run per optimizer and seed and return the results.

    Args:
        optimizers: Registered optimizer names. Defaults to the 2017 study's
            `("sgd", "adam", "adagrad")`.
        seeds: Seeds; every optimizer runs once per seed. Defaults to `(0,)`.
        hyperparameters: Overrides per optimizer, such as
            `{"adam": {"learning_rate": 3e-4}}`.
        store: Results store, as a `ResultsStore` or an SQLAlchemy URL.
            Defaults to `results.db` (SQLite) in `output_dir`.
        output_dir: Folder for `config.json`, `history.csv`, `summary.csv`
            and checkpoints. Defaults to `labkit-runs/<time>-<id>`.
        name: A label for the comparison. Defaults to the optimizers' names.
        sinks: `Sink` objects that receive progress and results.
        stop_event: A `threading.Event` that stops training at the next batch
            end when set; the current run is marked stopped.
        data_dir: Folder to look in first for dataset files.
        download: Whether to try a download through `keras.datasets`.
        dataset: A dataset name, or an already loaded `labkit.data.Dataset`,
            which then serves every seed as it is (its split should match
            `train_size` and `validation`, which are only recorded). Defaults
            to `"cifar10"`.
        **settings: The other `RunConfig` fields: `model`, `model_options`,
            `preset`, `epochs`, `batch_size`, `augmentation`, `validation`,
            `train_size`, `evaluate_test`, `eval_batch_size`.

    Returns:
        A `ComparisonResult`.

    Raises:
        LabkitError: before any training, for any invalid setting or a
            dataset that cannot be loaded.
        KeyboardInterrupt: after marking the current run stopped.
    """
    loaded = None
    if dataset is not None and not isinstance(dataset, str):
        loaded, dataset = dataset, dataset.name
    if dataset is not None:
        settings["dataset"] = dataset
    configs = build_run_configs(optimizers, seeds, hyperparameters, **settings)
    data = _DataSource(data_dir, download, loaded)
    # Loading the first run's data here reports a missing or corrupt dataset
    # before anything is written to the store.
    first = data.for_config(configs[0])

    comparison_name = name or " vs ".join(dict.fromkeys(c.optimizer for c in configs))
    store, output_dir = _open_store(store, output_dir)
    environment = describe_environment()
    comparison_id = store.create_comparison(
        comparison_name,
        {"runs": [c.to_dict() for c in configs], "data": first.metadata},
        environment,
    )
    for position, config in enumerate(configs):
        store.create_run(comparison_id, position, config, config.effective_hyperparameters())
    _write_config(output_dir, store, comparison_id, comparison_name, configs, first, environment)
    logger.info("Comparison %s: %d runs, output in %s.", comparison_id, len(configs), output_dir)
    return _run(store, comparison_id, output_dir, data, sinks, stop_event)


def resume(output_dir, *, store=None, sinks=(), stop_event=None, data_dir=None, download=True):
    """Continue a comparison that was stopped, killed or that failed.

    Finished and diverged runs are kept as they are; every other run goes on
    from its last finished epoch, with model and optimizer state restored.

    Args:
        output_dir: The comparison's output folder (it contains `config.json`).
        store: The results store, when `config.json` cannot name it (for a
            URL with a password, which labkit never writes to disk).
        sinks, stop_event, data_dir, download: As in `compare`.

    Returns:
        A `ComparisonResult`.

    Raises:
        ConfigError: if the folder contains no labkit comparison.
    """
    output_dir = pathlib.Path(output_dir)
    saved = read_config(output_dir)
    if store is None:
        store = saved["store"]
        if saved.get("store_has_password"):
            raise ConfigError(
                f"The store of {output_dir} has a password, which labkit does not "
                "write to disk. Pass the full URL with --store."
            )
    store, _ = _open_store(store, output_dir)
    comparison_id = saved["comparison_id"]
    store.comparison(comparison_id)
    data = _DataSource(data_dir, download)
    data.for_config(RunConfig.from_dict(saved["runs"][0]))
    logger.info("Resuming comparison %s from %s.", comparison_id, output_dir)
    return _run(store, comparison_id, output_dir, data, sinks, stop_event)


def read_config(output_dir):
    """Read a comparison's `config.json`.

    Raises:
        ConfigError: if the file is missing or is not a labkit comparison.
    """
    path = pathlib.Path(output_dir) / CONFIG_FILE
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist, so {output_dir} contains no labkit comparison. "
            "Give the --out folder of an earlier `labkit compare`."
        ) from None
    except (OSError, ValueError) as error:
        raise ConfigError(f"Cannot read {path}: {error}.") from error
    if not isinstance(saved, dict) or "comparison_id" not in saved or "runs" not in saved:
        raise ConfigError(f"{path} is not a labkit comparison file (no comparison_id or runs).")
    return saved


def _open_store(store, output_dir):
    if output_dir is None:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        output_dir = pathlib.Path("labkit-runs") / stamp
    output_dir = pathlib.Path(output_dir)
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(
            f"Cannot create the output folder {output_dir}: {error}. Choose another with --out."
        ) from error
    if store is None:
        store = sqlite_url(output_dir / STORE_FILE)
    if not isinstance(store, ResultsStore):
        store = ResultsStore(store)
    return store, output_dir


def _write_config(output_dir, store, comparison_id, name, configs, dataset, environment):
    import sqlalchemy as sa

    url = sa.engine.make_url(store.url)
    content = {
        "comparison_id": comparison_id,
        "name": name,
        "store": store.safe_url,
        "store_has_password": url.password is not None,
        "runs": [c.to_dict() for c in configs],
        "data": dataset.metadata,
        "environment": environment,
    }
    path = pathlib.Path(output_dir) / CONFIG_FILE
    path.write_text(json.dumps(content, indent=2, sort_keys=True, default=str) + "\n")


def _run(store, comparison_id, output_dir, data, sinks, stop_event):
    stop_event = stop_event or threading.Event()
    comparison = _Comparison(store, comparison_id, output_dir, data, sinks, stop_event)
    comparison.run_all(store.runs(comparison_id))
    return ComparisonResult.from_store(store, comparison_id, output_dir)


__all__ = ["compare", "resume", "build_run_configs", "build_training_model", "LabkitError"]
