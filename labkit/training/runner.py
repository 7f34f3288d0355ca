"""The runner: train one model per optimizer and seed, paired, and keep it all.

For a given seed every optimizer starts from the same initial weights and
sees the same data order, dropout masks and augmentation draws, so results
do not depend on the order of the runs. Every finished epoch is committed
to the results store before anything else sees it, and a checkpoint after
each epoch lets a stopped or killed run resume from its last finished epoch.
"""

import dataclasses
import logging
import math
import pathlib
import threading
import time

import keras
import numpy as np

from labkit import models
from labkit.augmentation import build_augmentation
from labkit.errors import ConfigError, LabkitError
from labkit.optimizers import get as get_optimizer
from labkit.training import checkpoints, folder
from labkit.training.callbacks import EpochMonitor
from labkit.training.config import RunConfig, build_run_configs
from labkit.training.data_source import DataSource
from labkit.training.environment import describe_environment
from labkit.training.folder import read_config
from labkit.training.results import ComparisonResult, write_outputs
from labkit.training.sinks import RunInfo, SinkList
from labkit.training.store import DONE_STATUSES, ResultsStore, new_comparison_id, sqlite_url

logger = logging.getLogger(__name__)

STORE_FILE = "results.db"
DEFAULT_OPTIMIZERS = ("sgd", "adam", "adagrad")


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


def _kept_epochs(count):
    """Say which finished epochs a run that ended early keeps."""
    if count == 0:
        return "no epoch had finished"
    if count == 1:
        return "epoch 1 is kept"
    return f"epochs 1-{count} are kept"


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
        self.store.set_status(info.run_id, "running")
        status, message = "failed", ""
        began = False
        try:
            # Inside the try, so that a model that cannot be built or loaded
            # fails this run only and the comparison goes on.
            model, start_epoch = self._model_for(info)
            info = dataclasses.replace(info, start_epoch=start_epoch)
            self.sinks.dispatch("on_run_begin", info)
            began = True
            status, message = self._epochs(model, info, start_epoch)
        except KeyboardInterrupt:
            status, message = "stopped", "Interrupted; resume continues from the last finished epoch."
            raise
        except Exception as error:
            logger.exception("Run %s (%s, seed %s) failed.", info.run_id, config.optimizer, config.seed)
            status, message = "failed", f"{type(error).__name__}: {error}"
        finally:
            self.store.set_status(info.run_id, status, message)
            if not began:
                self.sinks.dispatch("on_run_begin", info)
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
                    f"{_kept_epochs(epoch - 1)}."
                )
            if monitor.stopped:
                return "stopped", (
                    f"Stopped during epoch {epoch}; its partial result is dropped "
                    f"and {_kept_epochs(epoch - 1)}."
                )
            row = self._evaluate(model, config, epoch, monitor)
            if monitor.stopped:
                return "stopped", (
                    f"Stopped while evaluating epoch {epoch}; its result is dropped "
                    f"and {_kept_epochs(epoch - 1)}."
                )
            row["includes_compile"] = epoch == start_epoch + 1
            self.store.add_epoch(info.run_id, row)
            checkpoints.save(model, self.checkpoint_dir, info.run_id, epoch)
            self._write_outputs_after_epoch(info, epoch)
            self.sinks.dispatch("on_epoch_end", info, row)
            if not math.isfinite(row["loss"]):
                return "diverged", f"Training loss of epoch {epoch} is {row['loss']}."
        return "finished", ""

    def _write_outputs_after_epoch(self, info, epoch):
        # The CSV files are copies of the store, which has the epoch already,
        # so a failed write is logged and retried after the next epoch.
        try:
            write_outputs(self.store, self.comparison_id, self.output_dir)
        except OSError as error:
            logger.warning(
                "Cannot write history.csv and summary.csv in %s after epoch %d of "
                "run %s: %s. The results store has the epoch; the files are "
                "written again after the next epoch.",
                self.output_dir, epoch, info.run_id, error,
            )

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
                verbose=0, return_dict=True, callbacks=[monitor],
            )
            row["val_loss"] = float(scores["loss"])
            row["val_accuracy"] = float(scores["accuracy"])
        if config.evaluate_test:
            if config.validation == "test":
                row["test_loss"], row["test_accuracy"] = row["val_loss"], row["val_accuracy"]
            else:
                scores = model.evaluate(
                    dataset.x_test, dataset.y_test, batch_size=config.eval_batch_size,
                    verbose=0, return_dict=True, callbacks=[monitor],
                )
                row["test_loss"] = float(scores["loss"])
                row["test_accuracy"] = float(scores["accuracy"])
        row["eval_time_s"] = time.perf_counter() - started
        return row


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
    comparison_id=None,
    **settings,
):
    """Train one run per optimizer and seed and return the results.

    Every setting, the output folder and the results store are checked
    before anything is recorded, so an invalid one leaves no trace.

    Args:
        optimizers: Registered optimizer names. Defaults to the 2017 study's
            `("sgd", "adam", "adagrad")`.
        seeds: Seeds from 0 to 2**32 - 1; every optimizer runs once per
            seed. Defaults to `(0,)`.
        hyperparameters: Overrides per optimizer, such as
            `{"adam": {"learning_rate": 3e-4}}`.
        store: Results store, as a `ResultsStore` or an SQLAlchemy URL.
            Defaults to `results.db` (SQLite) in `output_dir`.
        output_dir: A new folder, or one without `config.json`, for
            `config.json`, `history.csv`, `summary.csv` and checkpoints.
            Defaults to `labkit-runs/<date>-<time>-<comparison id>` (see
            `labkit.training.folder.default_output_dir`).
        name: A label for the comparison. Defaults to the optimizers' names.
        sinks: `Sink` objects that receive progress and results.
        stop_event: A `threading.Event` that stops training at the next batch
            end when set; the current run is marked stopped.
        data_dir: Folder to look in first for dataset files; recorded in
            `config.json`, so that `resume` looks there too.
        download: Whether to try a download through `keras.datasets`.
        dataset: A dataset name, or an already loaded `labkit.data.Dataset`,
            which then serves every seed as it is (its split should match
            `train_size` and `validation`, which are only recorded). Defaults
            to `"cifar10"`.
        comparison_id: The id to record the comparison under, such as one
            from `labkit.training.store.new_comparison_id()` that also named
            the output folder. Defaults to a new random id.
        **settings: The other `RunConfig` fields: `model`, `model_options`,
            `preset`, `epochs`, `batch_size`, `augmentation`, `validation`,
            `train_size`, `evaluate_test`, `eval_batch_size`.

    Returns:
        A `ComparisonResult`.

    Raises:
        LabkitError: before anything is recorded, for any invalid setting, an
            output folder that contains a comparison already or is not
            writable, a store that cannot be opened, or a dataset that cannot
            be loaded.
        KeyboardInterrupt: after marking the current run stopped.
    """
    loaded = None
    if dataset is not None and not isinstance(dataset, str):
        loaded, dataset = dataset, dataset.name
    if dataset is not None:
        settings["dataset"] = dataset
    configs = build_run_configs(optimizers, seeds, hyperparameters, **settings)
    comparison_id = comparison_id or new_comparison_id()
    if output_dir is None:
        output_dir = folder.default_output_dir(comparison_id)
    output_dir = pathlib.Path(output_dir)
    folder.check_no_comparison(output_dir)
    data = DataSource(data_dir, download, loaded)
    # Loading the first run's data here reports a missing or corrupt dataset
    # before anything is written.
    first = data.for_config(configs[0])
    folder.prepare_output_dir(output_dir)
    store = _open_store(store, output_dir)

    comparison_name = name or " vs ".join(dict.fromkeys(c.optimizer for c in configs))
    environment = describe_environment()
    data_dir = folder.data_dir_used(data_dir)
    store.record_comparison(
        comparison_name,
        {"runs": [c.to_dict() for c in configs], "data": first.metadata, "data_dir": data_dir},
        environment,
        [(config, config.effective_hyperparameters()) for config in configs],
        comparison_id=comparison_id,
    )
    try:
        folder.write_config(
            output_dir, store, comparison_id, comparison_name, configs, first,
            environment, data_dir,
        )
    except OSError as error:
        store.delete_comparison(comparison_id)
        raise ConfigError(
            f"Cannot write {output_dir / folder.CONFIG_FILE}: {error}. Nothing was "
            "trained and the comparison was removed from the store again. Free "
            "some space or choose another output folder with --out."
        ) from error
    logger.info("Comparison %s: %d runs, output in %s.", comparison_id, len(configs), output_dir)
    return _run(store, comparison_id, output_dir, data, sinks, stop_event)


def resume(output_dir, *, store=None, sinks=(), stop_event=None, data_dir=None, download=True):
    """Continue a comparison that was stopped, killed or that failed.

    Finished and diverged runs are kept as they are; every other run goes on
    from its last finished epoch, with model and optimizer state restored.
    Every other setting comes from `config.json`; `folder.stored_settings`
    returns them, to compare with options a caller was given.

    Args:
        output_dir: The comparison's output folder (it contains `config.json`).
        store: The results store, when `config.json` cannot name it (for a
            URL with a password, which labkit never writes to disk). It must
            exist already.
        data_dir: Folder to look in first for dataset files. Defaults to the
            one recorded in `config.json`.
        sinks, stop_event, download: As in `compare`.

    Returns:
        A `ComparisonResult`; its `runs_trained` is 0, and a warning is
        logged, when no run was left to train.

    Raises:
        ConfigError: if the folder contains no valid labkit comparison, or
            if the dataset files differ from those the comparison started
            with (the message lists them).
        StoreError: if the store does not exist or lacks the comparison.
    """
    output_dir = pathlib.Path(output_dir)
    saved = read_config(output_dir, require_store=store is None)
    if store is None:
        store = saved["store"]
        if saved.get("store_has_password"):
            raise ConfigError(
                f"The store of {output_dir} has a password, which labkit does not "
                "write to disk. Pass the full URL with --store (Python: store=URL)."
            )
    if not isinstance(store, ResultsStore):
        store = ResultsStore(store, create=False)
    comparison_id = saved["comparison_id"]
    store.comparison(comparison_id)

    left = [row for row in store.runs(comparison_id) if row["status"] not in DONE_STATUSES]
    if not left:
        logger.warning(
            "Nothing left to train: every run of comparison %s in %s is finished "
            "or diverged.", comparison_id, output_dir,
        )
        return ComparisonResult.from_store(store, comparison_id, output_dir, runs_trained=0)

    folder.prepare_output_dir(output_dir)
    if data_dir is None:
        data_dir = saved.get("data_dir")
    data = DataSource(
        data_dir, download,
        expected_files=saved["data"].get("files") or [],
        comparison_id=comparison_id,
    )
    data.for_config(RunConfig.from_json(left[0]["config"]))
    logger.info(
        "Resuming comparison %s from %s: %d runs left to train.",
        comparison_id, output_dir, len(left),
    )
    return _run(store, comparison_id, output_dir, data, sinks, stop_event)


def _open_store(store, output_dir):
    if store is None:
        store = sqlite_url(output_dir / STORE_FILE)
    if not isinstance(store, ResultsStore):
        store = ResultsStore(store)
    return store


def _run(store, comparison_id, output_dir, data, sinks, stop_event):
    stop_event = stop_event or threading.Event()
    comparison = _Comparison(store, comparison_id, output_dir, data, sinks, stop_event)
    rows = store.runs(comparison_id)
    comparison.run_all(rows)
    left = sum(row["status"] not in DONE_STATUSES for row in rows)
    return ComparisonResult.from_store(store, comparison_id, output_dir, runs_trained=left)


__all__ = ["compare", "resume", "build_run_configs", "build_training_model", "LabkitError"]
