"""Tests of the runner on tiny subsets of the real Fashion-MNIST."""

import threading

import numpy as np
import pytest

from labkit.training import Sink, build_training_model, compare, resume
from labkit.training.config import RunConfig
from labkit.training.store import ResultsStore

TINY = {
    "model": "mlp",
    "model_options": {"hidden_units": [16]},
    "epochs": 2,
    "batch_size": 32,
    "augmentation": False,
    "validation": 0.25,
    "train_size": 160,
}


def _compare(tmp_path, optimizers=("sgd", "adam"), **overrides):
    settings = {**TINY, **overrides}
    return compare(
        list(optimizers),
        dataset="fashion_mnist",
        output_dir=tmp_path / "out",
        download=False,
        **settings,
    )


class _Recorder(Sink):
    wants_batches = True

    def __init__(self):
        self.events = []
        self.rows = []

    def on_run_begin(self, run):
        self.events.append(("begin", run.optimizer))

    def on_batch_end(self, run, epoch, batch, logs):
        self.events.append(("batch", run.optimizer, epoch, batch))

    def on_epoch_end(self, run, row):
        self.rows.append((run.optimizer, row))

    def on_run_end(self, run, status, message):
        self.events.append(("end", run.optimizer, status))


def test_compare_records_every_epoch(tmp_path):
    result = _compare(tmp_path, evaluate_test=True)

    history = result.history
    assert len(history) == 4
    assert list(history["epoch"]) == [1, 2, 1, 2]
    for column in ("time_per_epoch_s", "eval_time_s", "loss", "accuracy", "val_loss",
                   "val_accuracy", "test_loss", "test_accuracy", "learning_rate"):
        assert np.isfinite(history[column]).all(), column
    assert list(history["includes_compile"]) == [True, False, True, False]
    assert result.statuses == {("sgd", 0): "finished", ("adam", 0): "finished"}
    for name in ("config.json", "history.csv", "summary.csv"):
        assert (tmp_path / "out" / name).exists(), name


def test_compare_learning_rate_from_preset(tmp_path):
    result = _compare(tmp_path, optimizers=("adagrad",), preset="keras2017", epochs=1)

    assert result.history["learning_rate"].iloc[0] == pytest.approx(0.01)
    assert result.runs[0]["hyperparameters"]["learning_rate"] == pytest.approx(0.01)


def test_paired_runs_share_initial_weights():
    config = RunConfig(optimizer="sgd", model="cifar10_cnn", model_options={"width": 0.25}, seed=3)

    sgd = build_training_model(config, (28, 28, 1), 10).get_weights()
    adam = build_training_model(RunConfig(**{**config.to_dict(), "optimizer": "adam"}), (28, 28, 1), 10)
    other_seed = build_training_model(RunConfig(**{**config.to_dict(), "seed": 4}), (28, 28, 1), 10)

    for left, right in zip(sgd, adam.get_weights()):
        np.testing.assert_array_equal(left, right)
    assert not all(np.array_equal(a, b) for a, b in zip(sgd, other_seed.get_weights()))


def test_results_independent_of_run_order(tmp_path):
    forward = _compare(tmp_path / "a", optimizers=("sgd", "adam"), augmentation=True)
    backward = _compare(tmp_path / "b", optimizers=("adam", "sgd"), augmentation=True)

    for name in ("sgd", "adam"):
        first = forward.history[forward.history["optimizer"] == name]
        second = backward.history[backward.history["optimizer"] == name]
        for column in ("loss", "accuracy", "val_loss", "val_accuracy"):
            np.testing.assert_array_equal(first[column].to_numpy(), second[column].to_numpy())


def test_seeds_differ_and_repeat(tmp_path):
    result = _compare(tmp_path, optimizers=("sgd",), seeds=[0, 1], epochs=1)
    again = _compare(tmp_path / "again", optimizers=("sgd",), seeds=[1], epochs=1)

    losses = result.history.set_index("seed")["loss"]
    assert losses[0] != losses[1]
    assert again.history["loss"].iloc[0] == losses[1]


class _PoisonData(Sink):
    """Puts NaN into the training images after a run's first epoch."""

    def __init__(self, dataset):
        self.dataset = dataset
        self.saved = dataset.x_train.copy()

    def on_epoch_end(self, run, row):
        if run.optimizer == "sgd" and row["epoch"] == 1:
            self.dataset.x_train[:] = np.nan

    def on_run_end(self, run, status, message):
        self.dataset.x_train[:] = self.saved


def test_diverged_run_keeps_earlier_epochs(tmp_path, tiny_fashion):
    result = compare(
        ["sgd", "adam"], dataset=tiny_fashion, output_dir=tmp_path,
        sinks=[_PoisonData(tiny_fashion)], **{**TINY, "epochs": 3},
    )

    assert result.statuses == {("sgd", 0): "diverged", ("adam", 0): "finished"}
    sgd = result.history[result.history["optimizer"] == "sgd"]
    assert list(sgd["epoch"]) == [1]
    assert "became nan at epoch 2" in result.runs[0]["message"]
    assert len(result.history[result.history["optimizer"] == "adam"]) == 3


class _StopAt(Sink):
    wants_batches = True

    def __init__(self, stop_event, epoch, batch=None):
        self.stop_event, self.epoch, self.batch = stop_event, epoch, batch

    def on_batch_end(self, run, epoch, batch, logs):
        if self.batch is not None and (epoch, batch) == (self.epoch, self.batch):
            self.stop_event.set()

    def on_epoch_end(self, run, row):
        if self.batch is None and row["epoch"] == self.epoch:
            self.stop_event.set()


def test_stop_mid_epoch_keeps_finished_epochs(tmp_path, tiny_fashion):
    stop = threading.Event()
    recorder = _Recorder()

    result = compare(
        ["sgd", "adam"], dataset=tiny_fashion, output_dir=tmp_path, stop_event=stop,
        sinks=[_StopAt(stop, epoch=2, batch=1), recorder], **{**TINY, "epochs": 3},
    )

    assert result.statuses == {("sgd", 0): "stopped", ("adam", 0): "pending"}
    assert list(result.history["epoch"]) == [1]
    batches_in_epoch_2 = [e for e in recorder.events if e[0] == "batch" and e[2] == 2]
    assert len(batches_in_epoch_2) == 2
    assert "Stopped during epoch 2" in result.runs[0]["message"]


def test_resume_matches_uninterrupted(tmp_path, tiny_fashion):
    settings = {**TINY, "epochs": 4, "augmentation": True}
    whole = compare(["adam", "sgd"], dataset=tiny_fashion, output_dir=tmp_path / "whole", **settings)
    stop = threading.Event()
    stopped = compare(
        ["adam", "sgd"], dataset=tiny_fashion, output_dir=tmp_path / "split",
        stop_event=stop, sinks=[_StopAt(stop, epoch=2)], **settings,
    )
    assert stopped.statuses[("adam", 0)] == "stopped"

    resumed = resume(tmp_path / "split", download=False)

    assert resumed.statuses == {("adam", 0): "finished", ("sgd", 0): "finished"}
    history = resumed.history
    assert list(history["epoch"]) == [1, 2, 3, 4, 1, 2, 3, 4]
    assert list(history["includes_compile"]) == [True, False, True, False, True, False, False, False]
    for column in ("loss", "val_loss", "val_accuracy"):
        np.testing.assert_allclose(history[column], whole.history[column], rtol=1e-5)


def test_failed_run_lets_others_go_on(tmp_path, tiny_fashion, monkeypatch):
    from labkit.training import checkpoints

    original = checkpoints.save

    def broken_save(model, directory, run_id, epoch):
        if "sgd" in model.optimizer.name.lower():
            raise OSError("disk full")
        return original(model, directory, run_id, epoch)

    monkeypatch.setattr(checkpoints, "save", broken_save)

    result = compare(["sgd", "adam"], dataset=tiny_fashion, output_dir=tmp_path, **TINY)

    assert result.statuses == {("sgd", 0): "failed", ("adam", 0): "finished"}
    assert result.runs[0]["message"] == "OSError: disk full"
    assert len(result.history[result.history["optimizer"] == "sgd"]) == 1


def test_sink_error_does_not_stop_training(tmp_path, tiny_fashion, caplog):
    class Broken(Sink):
        def on_epoch_end(self, run, row):
            raise RuntimeError("display gone")

    result = compare(["sgd"], dataset=tiny_fashion, output_dir=tmp_path, sinks=[Broken()], **TINY)

    assert result.statuses == {("sgd", 0): "finished"}
    assert len(result.history) == 2
    assert "switched off" in caplog.text


def test_streamed_rows_equal_stored_history(tmp_path, tiny_fashion):
    recorder = _Recorder()

    result = compare(["sgd", "adam"], dataset=tiny_fashion, output_dir=tmp_path, sinks=[recorder], **TINY)

    stored = ResultsStore(result.store_url).history(result.comparison_id)
    assert len(recorder.rows) == len(stored)
    for (optimizer, row), (_, record) in zip(recorder.rows, stored.iterrows()):
        assert optimizer == record["optimizer"]
        assert row["epoch"] == record["epoch"]
        assert row["loss"] == pytest.approx(record["loss"], rel=1e-12)
