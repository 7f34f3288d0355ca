"""Tests of the runner on tiny subsets of the real Fashion-MNIST."""

import gzip
import hashlib
import json
import logging
import os
import pathlib
import threading

import numpy as np
import pandas as pd
import pytest

from labkit.errors import ConfigError, StoreError
from labkit.training import Sink, build_training_model, compare, read_config, resume
from labkit.training.config import RunConfig
from labkit.training.store import ResultsStore, sqlite_url

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
    """Scales the training images to 1e30 after a run's first epoch.

    The huge gradients overflow the weights within a few steps, so the loss
    becomes NaN. NaN images alone do not do it: in TensorFlow 2.21 the
    loss of a NaN input comes out finite.
    """

    def __init__(self, dataset):
        self.dataset = dataset
        self.saved = dataset.x_train.copy()

    def on_epoch_end(self, run, row):
        if run.optimizer == "sgd" and row["epoch"] == 1:
            self.dataset.x_train[:] = 1e30

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


def test_failed_model_build_fails_one_run(tmp_path, tiny_fashion, monkeypatch):
    from labkit.training import runner

    original = runner.build_training_model

    def broken_build(config, *args, **kwargs):
        if config.optimizer == "sgd":
            raise MemoryError("out of memory while building the model")
        return original(config, *args, **kwargs)

    monkeypatch.setattr(runner, "build_training_model", broken_build)
    recorder = _Recorder()

    result = compare(
        ["sgd", "adam"], dataset=tiny_fashion, output_dir=tmp_path, sinks=[recorder], **TINY
    )

    assert result.statuses == {("sgd", 0): "failed", ("adam", 0): "finished"}
    assert "MemoryError: out of memory" in result.runs[0]["message"]
    assert recorder.events[:2] == [("begin", "sgd"), ("end", "sgd", "failed")]
    assert len(result.history[result.history["optimizer"] == "adam"]) == 2


# -- output folder, store and data checks -----------------------------------

ONE_EPOCH = {**TINY, "epochs": 1}
FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def test_compare_rejects_folder_with_comparison(tmp_path, tiny_fashion):
    out = tmp_path / "out"
    compare(["sgd"], dataset=tiny_fashion, output_dir=out, **ONE_EPOCH)
    before = {name: (out / name).read_bytes() for name in ("config.json", "history.csv", "summary.csv")}

    with pytest.raises(ConfigError) as error:
        compare(["adam"], dataset=tiny_fashion, output_dir=out, **ONE_EPOCH)

    message = str(error.value)
    assert f"The output folder {out} already contains a comparison" in message
    assert f"labkit compare --resume {out}" in message
    assert "choose another output folder with --out" in message
    for name, content in before.items():
        assert (out / name).read_bytes() == content, name
    assert len(ResultsStore(sqlite_url(out / "results.db")).comparisons()) == 1


def test_default_output_dir_unique(tmp_path, tiny_fashion, monkeypatch):
    monkeypatch.chdir(tmp_path)

    first = compare(["sgd"], dataset=tiny_fashion, **ONE_EPOCH)
    second = compare(["sgd"], dataset=tiny_fashion, **ONE_EPOCH)

    assert first.output_dir != second.output_dir
    for result in (first, second):
        assert result.output_dir.parent == pathlib.Path("labkit-runs")
        assert result.output_dir.name.endswith(f"-{result.comparison_id}")
        assert read_config(result.output_dir)["comparison_id"] == result.comparison_id


def test_compare_large_seed_writes_nothing(tmp_path, tiny_fashion):
    out = tmp_path / "out"

    with pytest.raises(ConfigError, match="Received: seed=4294967296"):
        compare(["sgd"], seeds=[2**32], dataset=tiny_fashion, output_dir=out, **ONE_EPOCH)

    assert not out.exists()


@pytest.mark.parametrize(
    "options, message",
    [({"foo": 1}, "Unknown option for model 'mlp': foo"),
     ({"activation": "nosuch"}, "activation must be one of")],
)
def test_compare_invalid_model_option_writes_nothing(tmp_path, tiny_fashion, options, message):
    out = tmp_path / "out"

    with pytest.raises(ConfigError, match=message):
        compare(["sgd"], dataset=tiny_fashion, output_dir=out,
                **{**ONE_EPOCH, "model_options": options})

    assert not out.exists()


def test_compare_unwritable_output_records_nothing(tmp_path, tiny_fashion, monkeypatch):
    external = tmp_path / "external.db"
    out = tmp_path / "out"
    out.mkdir()
    original = {name: getattr(pathlib.Path, name) for name in ("write_bytes", "write_text")}

    def read_only(name):
        # Tests may run as root, which chmod does not stop: deny in Python.
        def write(path, *args, **kwargs):
            if path.parent == out:
                raise PermissionError(13, "Permission denied", str(path))
            return original[name](path, *args, **kwargs)
        return write

    for name in original:
        monkeypatch.setattr(pathlib.Path, name, read_only(name))

    with pytest.raises(ConfigError, match=f"Cannot write to the output folder {out}"):
        compare(["sgd"], dataset=tiny_fashion, output_dir=out,
                store=sqlite_url(external), **ONE_EPOCH)

    assert ResultsStore(sqlite_url(external)).comparisons() == []
    assert list(out.iterdir()) == []


def test_compare_output_below_file_records_nothing(tmp_path, tiny_fashion):
    external = tmp_path / "external.db"
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")

    with pytest.raises(ConfigError, match=f"Cannot create the output folder {blocker / 'out'}"):
        compare(["sgd"], dataset=tiny_fashion, output_dir=blocker / "out",
                store=sqlite_url(external), **ONE_EPOCH)

    assert not external.exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_compare_read_only_output_records_nothing(tmp_path, tiny_fashion):
    external = tmp_path / "external.db"
    out = tmp_path / "read-only"
    out.mkdir()
    out.chmod(0o500)

    try:
        with pytest.raises(ConfigError, match=f"Cannot write to the output folder {out}"):
            compare(["sgd"], dataset=tiny_fashion, output_dir=out,
                    store=sqlite_url(external), **ONE_EPOCH)
    finally:
        out.chmod(0o700)

    assert ResultsStore(sqlite_url(external)).comparisons() == []


def test_relative_sqlite_store_saved_absolute(tmp_path, tiny_fashion, monkeypatch):
    first, elsewhere = tmp_path / "first", tmp_path / "elsewhere"
    first.mkdir()
    elsewhere.mkdir()
    monkeypatch.chdir(first)
    compare(["sgd"], dataset=tiny_fashion, output_dir=tmp_path / "out",
            store="sqlite:///rel.db", **ONE_EPOCH)

    saved = read_config(tmp_path / "out")
    monkeypatch.chdir(elsewhere)
    resumed = resume(tmp_path / "out", download=False)

    assert saved["store"] == f"sqlite:///{first / 'rel.db'}"
    assert resumed.statuses == {("sgd", 0): "finished"}
    assert list(elsewhere.iterdir()) == []


def test_resume_finished_has_nothing_to_train(tmp_path, tiny_fashion, caplog):
    result = compare(["sgd", "adam"], dataset=tiny_fashion, output_dir=tmp_path, **ONE_EPOCH)

    with caplog.at_level(logging.WARNING, logger="labkit.training.runner"):
        resumed = resume(tmp_path, download=False)

    assert result.runs_trained == 2
    assert resumed.runs_trained == 0
    assert f"Nothing left to train: every run of comparison {result.comparison_id}" in caplog.text
    assert resumed.statuses == result.statuses


def test_resume_missing_store_file_not_created(tmp_path, tiny_fashion):
    compare(["sgd"], dataset=tiny_fashion, output_dir=tmp_path, **ONE_EPOCH)
    for path in tmp_path.glob("results.db*"):
        path.unlink()

    with pytest.raises(StoreError, match=f"The results store file {tmp_path / 'results.db'} does not exist"):
        resume(tmp_path, download=False)

    assert not (tmp_path / "results.db").exists()


def test_resume_rejects_config_without_store(tmp_path, tiny_fashion):
    compare(["sgd"], dataset=tiny_fashion, output_dir=tmp_path, **ONE_EPOCH)
    saved = json.loads((tmp_path / "config.json").read_text())
    del saved["store"]
    (tmp_path / "config.json").write_text(json.dumps(saved))

    with pytest.raises(ConfigError, match=f"{tmp_path / 'config.json'} lacks the key 'store'"):
        resume(tmp_path, download=False)


def _fashion_copy(folder):
    """Link the Debian Fashion-MNIST files into `folder/fashion-mnist`."""
    target = folder / "fashion-mnist"
    target.mkdir(parents=True)
    for source in pathlib.Path(FASHION_DIR).iterdir():
        (target / source.name).symlink_to(source)
    return target


def test_resume_rejects_changed_data_files(tmp_path, fashion_available):
    data_dir = tmp_path / "data"
    files = _fashion_copy(data_dir)
    out = tmp_path / "out"
    stop = threading.Event()
    compare(["sgd"], dataset="fashion_mnist", data_dir=data_dir, download=False,
            output_dir=out, stop_event=stop, sinks=[_StopAt(stop, epoch=1)], **TINY)
    saved = read_config(out)
    old = next(item for item in saved["data"]["files"] if item["path"].endswith("t10k-labels-idx1-ubyte.gz"))
    changed = files / "t10k-labels-idx1-ubyte.gz"
    content = gzip.decompress(changed.read_bytes())
    changed.unlink()
    changed.write_bytes(gzip.compress(content, mtime=1))
    new_sha256 = hashlib.sha256(changed.read_bytes()).hexdigest()
    assert new_sha256 != old["sha256"]

    with pytest.raises(ConfigError) as error:
        resume(out, download=False)

    message = str(error.value)
    assert saved["data_dir"] == str(data_dir)
    assert f"The dataset files differ from those comparison {saved['comparison_id']} started" in message
    assert (
        f"  t10k-labels-idx1-ubyte.gz: sha256 {old['sha256']} at {old['path']}; "
        f"now sha256 {new_sha256} at {changed}"
    ) in message
    assert "train-images-idx3-ubyte.gz" not in message
    assert "Put the original files back" in message
    result = ResultsStore(saved["store"], create=False)
    assert [run["status"] for run in result.runs(saved["comparison_id"])] == ["stopped"]


class _ReadCsv(Sink):
    def __init__(self, folder):
        self.folder = folder
        self.lengths = []

    def on_epoch_end(self, run, row):
        history = pd.read_csv(self.folder / "history.csv")
        summary = pd.read_csv(self.folder / "summary.csv")
        self.lengths.append((len(history), list(dict.fromkeys(summary["optimizer"]))))


def test_csv_files_written_every_epoch(tmp_path, tiny_fashion):
    reader = _ReadCsv(tmp_path)

    compare(["sgd", "adam"], dataset=tiny_fashion, output_dir=tmp_path, sinks=[reader], **TINY)

    assert [length for length, _ in reader.lengths] == [1, 2, 3, 4]
    assert reader.lengths[0][1] == ["sgd"]
    assert reader.lengths[-1][1] == ["sgd", "adam"]
