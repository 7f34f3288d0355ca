"""Tests of the live dashboard: streams, throttling, Stop and errors.

Most tests train tiny models on real Fashion-MNIST in the dashboard's
background thread and drive it through the widgets' own click handlers.
Outside a kernel, the dashboard applies updates in the thread that sends
them; `test_kernel_streams_while_training` covers a real kernel.
"""

import json
import math
import pathlib
import re
import sys
import threading
import time
import traceback

import numpy as np
import pytest

from labkit.data import load_dataset
from labkit.live import Dashboard, LiveComparison, LiveDisplayError, UpdateQueue, check_live_support
from labkit.live import PALETTE, history_figures
from labkit.training import RunConfig, RunInfo, compare
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
PLOTTED = ("time_per_epoch_s", "loss", "accuracy", "val_loss", "val_accuracy")


def _live(tmp_path, optimizers=("sgd", "adam"), dataset=None, **overrides):
    settings = {**TINY, **overrides}
    return LiveComparison(
        list(optimizers),
        dataset=dataset if dataset is not None else "fashion_mnist",
        download=False,
        output_dir=tmp_path / "out",
        **settings,
    )


def _run_info(optimizer="sgd", seed=0, position=0, total=1, steps=10, epochs=3, run_id=None):
    return RunInfo(
        run_id=run_id or f"{optimizer}-{seed}",
        comparison_id="c",
        position=position,
        total_runs=total,
        config=RunConfig(optimizer=optimizer, seed=seed, epochs=epochs),
        hyperparameters={},
        steps_per_epoch=steps,
    )


def _dashboard(runs=(("sgd", 0),), **options):
    return Dashboard(list(runs), io_loop=None, **options)


def _all_values(dashboard):
    sources = [
        *dashboard.epoch_sources.values(),
        *dashboard.batch_sources.values(),
        *dashboard.marker_sources.values(),
    ]
    for source in sources:
        for name, column in source.data.items():
            for value in column:
                yield source.name, name, value


def _wait_until(condition, timeout_s, what):
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(0.01)


# Streams against the results store.


def test_streamed_rows_match_stored_history(tmp_path):
    live = _live(tmp_path)

    live.train_button.click()
    result = live.wait()

    history = result.history
    dashboard = live.dashboard
    assert result.statuses == {("sgd", 0): "finished", ("adam", 0): "finished"}
    for optimizer in ("sgd", "adam"):
        stored = history[history["optimizer"] == optimizer].sort_values("epoch")
        data = dashboard.epoch_sources[optimizer].data
        assert data["epoch"] == [1, 2]
        assert data["seeds"] == [1, 1]
        for metric in PLOTTED:
            assert data[f"{metric}_mean"] == pytest.approx(list(stored[metric])), metric
            assert data[f"{metric}_min"] == data[f"{metric}_max"], metric
    received = dashboard.history()
    for metric in PLOTTED:
        assert list(received[metric]) == pytest.approx(list(history[metric])), metric


def test_batch_stream_ends_at_epoch_loss(tmp_path):
    live = _live(tmp_path, optimizers=("adam",))

    live.start()
    result = live.wait()

    data = live.dashboard.batch_sources[("adam", 0)].data
    steps = math.ceil(120 / 32)
    assert len(data["x"]) == 2 * steps
    assert data["x"][-1] == pytest.approx(2.0)
    ends = [loss for x, loss in zip(data["x"], data["loss"]) if float(x).is_integer()]
    # Keras 3 logs the running mean of the epoch, so the last batch's value
    # is the epoch's training loss.
    assert ends == pytest.approx(list(result.history["loss"]), rel=1e-5)
    log = "".join(output["text"] for output in live.log.outputs)
    assert "Epoch 1/" not in log
    assert "step" not in log


def test_streamed_values_are_python_floats(tmp_path):
    live = _live(tmp_path, optimizers=("sgd",), epochs=1)

    live.start()
    live.wait()

    for source in [*live.dashboard.epoch_sources.values(), *live.dashboard.batch_sources.values()]:
        for name, column in source.data.items():
            assert isinstance(column, list), (source.name, name)
            kinds = {type(value) for value in column}
            assert kinds <= {float, int}, (source.name, name, kinds)


# Keys that are missing, late or not finite.


def test_no_validation_hides_validation_curves(tmp_path, fashion_available):
    dataset = load_dataset("fashion_mnist", train_size=160, validation=None, seed=0, download=False)
    live = _live(tmp_path, optimizers=("sgd",), dataset=dataset, validation=None)

    live.start()
    live.wait()

    dashboard = live.dashboard
    data = dashboard.epoch_sources["sgd"].data
    assert len(data["val_loss_mean"]) == len(data["epoch"]) == 2
    assert all(math.isnan(value) for value in data["val_loss_mean"])
    for metric in ("val_loss", "val_accuracy"):
        renderers, item = dashboard.figures.optional[(metric, "sgd")]
        assert not item.visible
        assert not any(renderer.visible for renderer in renderers)
    labels = [item.label["value"] for item in dashboard.figures.figures["loss"].legend[0].items
              if item.visible]
    assert labels == ["sgd training"]


def test_key_appearing_mid_run_fills_nan_before():
    dashboard = _dashboard()
    run = _run_info()
    sink = dashboard.sink

    sink.on_comparison_begin("c", [run])
    sink.on_run_begin(run)
    sink.on_epoch_end(run, {"epoch": 1, "loss": 2.0, "time_per_epoch_s": 1.0})
    dashboard.flush()
    _, item = dashboard.figures.optional[("val_loss", "sgd")]
    hidden_after_first = item.visible
    sink.on_epoch_end(run, {"epoch": 2, "loss": 1.5, "val_loss": 1.7, "learning_rate": 0.01,
                            "time_per_epoch_s": 1.0})
    dashboard.flush()

    data = dashboard.epoch_sources["sgd"].data
    assert not hidden_after_first
    assert item.visible
    assert math.isnan(data["val_loss_mean"][0])
    assert data["val_loss_mean"][1] == 1.7
    assert math.isnan(data["accuracy_mean"][1])
    assert {len(column) for column in data.values()} == {2}


def test_non_finite_values_never_reach_sources():
    dashboard = _dashboard()
    run = _run_info(steps=4)
    sink = dashboard.sink

    sink.on_comparison_begin("c", [run])
    sink.on_run_begin(run)
    for batch, loss in enumerate([2.0, 1.5, math.inf, math.nan]):
        sink.on_batch_end(run, 1, batch, {"loss": loss, "accuracy": 0.5})
    sink.on_epoch_end(run, {"epoch": 1, "loss": 1.2, "accuracy": 0.6, "time_per_epoch_s": 1.0})
    sink.on_epoch_end(run, {"epoch": 2, "loss": math.inf, "accuracy": math.nan,
                            "val_loss": -math.inf, "time_per_epoch_s": 1.0})
    sink.on_run_end(run, "diverged", "Training loss of epoch 2 is inf.")
    dashboard.flush()

    values = [value for _, _, value in _all_values(dashboard) if isinstance(value, float)]
    assert not any(math.isinf(value) for value in values)
    batch = dashboard.batch_sources[("sgd", 0)].data
    assert batch["loss"][:2] == [2.0, 1.5]
    assert all(math.isnan(value) for value in batch["loss"][2:])
    epochs = dashboard.epoch_sources["sgd"].data
    assert epochs["loss_mean"][0] == 1.2
    assert math.isnan(epochs["loss_mean"][1])
    markers = {name: source.data for name, source in dashboard.marker_sources.items()}
    assert (markers["batch"]["x"], markers["batch"]["y"]) == ([0.5], [1.5])
    assert (markers["loss"]["x"], markers["loss"]["y"]) == ([1.0], [1.2])
    assert all(item.visible for item in dashboard.figures.marker_items.values())
    assert "diverged" in dashboard.run_table.value


def test_diverging_run_keeps_curve_and_marker(tmp_path, tiny_fashion):
    # A learning rate of 1e20 overflows the weights in the first step, so
    # the loss is NaN from the second step on.
    live = _live(
        tmp_path, optimizers=("sgd",), dataset=tiny_fashion,
        hyperparameters={"sgd": {"learning_rate": 1e20}},
    )

    live.start()
    result = live.wait()

    dashboard = live.dashboard
    assert result.statuses == {("sgd", 0): "diverged"}
    batch = dashboard.batch_sources[("sgd", 0)].data
    assert len(batch["loss"]) >= 1
    assert all(math.isfinite(value) for value in batch["loss"])
    markers = dashboard.marker_sources["batch"].data
    assert markers["optimizer"] == ["sgd"]
    assert (markers["x"], markers["y"]) == ([batch["x"][-1]], [batch["loss"][-1]])
    assert dashboard.figures.marker_items["batch"].visible
    for source_name, column, value in _all_values(dashboard):
        if isinstance(value, float):
            assert not math.isinf(value), (source_name, column)


# Cost: throttling, coalescing and rollover.


class _FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def _count_streams(dashboard):
    from bokeh.document.events import ColumnsStreamedEvent

    counts = {}

    def on_change(event):
        if isinstance(event, ColumnsStreamedEvent):
            counts[event.model.name] = counts.get(event.model.name, 0) + 1

    dashboard.figures.layout.document.on_change(on_change)
    return counts


def test_batch_updates_throttled_and_coalesced():
    dashboard = _dashboard()
    clock = _FakeClock()
    dashboard.queue = UpdateQueue(dashboard.apply, interval_s=0.1, clock=clock)
    dashboard.sink.queue = dashboard.queue
    run = _run_info(steps=1000, epochs=1)
    counts = _count_streams(dashboard)

    dashboard.sink.on_comparison_begin("c", [run])
    dashboard.sink.on_run_begin(run)
    for batch in range(1000):
        clock.now += 0.001  # 1,000 batches a second for one second
        dashboard.sink.on_batch_end(run, 1, batch, {"loss": 1.0, "accuracy": 0.5})
    dashboard.flush()

    streams = counts["labkit-batches-sgd-0"]
    assert 9 <= streams <= 12
    assert len(dashboard.batch_sources[("sgd", 0)].data["x"]) == 1000


def test_empty_flush_delays_nothing():
    clock = _FakeClock()
    applied = []
    queue = UpdateQueue(applied.append, interval_s=0.1, clock=clock)

    queue.put(("batch", 0))
    clock.now = 0.05
    queue.flush()
    clock.now = 0.11
    queue.put(("batch", 1))

    assert applied == [[("batch", 0)], [("batch", 1)]]


def test_batch_source_rolls_over():
    dashboard = _dashboard(batch_points=50)
    run = _run_info(steps=100, epochs=2)
    sink = dashboard.sink

    sink.on_comparison_begin("c", [run])
    sink.on_run_begin(run)
    for step in range(120):
        sink.on_batch_end(run, 1 + step // 100, step % 100, {"loss": float(step)})
        if step % 7 == 0:
            dashboard.flush()
    dashboard.flush()

    data = dashboard.batch_sources[("sgd", 0)].data
    assert len(data["x"]) == 50
    assert data["loss"] == [float(step) for step in range(70, 120)]
    assert {len(column) for column in data.values()} == {50}


def test_update_queue_schedules_on_io_loop():
    class _Loop:
        def __init__(self):
            self.callbacks = []

        def add_callback(self, callback, *args):
            self.callbacks.append((callback, args))

        def call_later(self, delay_s, callback):
            raise AssertionError("call_later must run on the loop, through add_callback")

    loop = _Loop()
    applied = []
    queue = UpdateQueue(applied.append, interval_s=0.1, io_loop=loop)
    worker = threading.Thread(target=lambda: [queue.put(("batch", i)) for i in range(100)])

    worker.start()
    worker.join()

    assert applied == []
    assert len(loop.callbacks) == 1
    callback, (delay_s, flush) = loop.callbacks[0]
    assert callback == loop.call_later
    assert delay_s == 0.0
    flush()
    assert applied == [[("batch", i) for i in range(100)]]


# Several seeds.


def test_mean_and_band_across_seeds():
    dashboard = _dashboard(runs=[("adam", 0), ("adam", 1)])
    seed0, seed1 = _run_info("adam", 0, 0, 2), _run_info("adam", 1, 1, 2)
    sink = dashboard.sink

    sink.on_comparison_begin("c", [seed0, seed1])
    for epoch, loss in ((1, 1.0), (2, 0.5)):
        sink.on_epoch_end(seed0, {"epoch": epoch, "loss": loss, "time_per_epoch_s": 2.0})
    dashboard.flush()
    # Copies, because `ColumnDataSource.patch` changes the column lists in place.
    after_one_seed = {name: list(column) for name, column in dashboard.epoch_sources["adam"].data.items()}
    sink.on_epoch_end(seed1, {"epoch": 1, "loss": 3.0, "time_per_epoch_s": 4.0})
    dashboard.flush()

    data = dashboard.epoch_sources["adam"].data
    assert after_one_seed["loss_min"] == after_one_seed["loss_max"] == [1.0, 0.5]
    assert data["epoch"] == [1, 2]
    assert data["seeds"] == [2, 1]
    assert data["loss_mean"] == [2.0, 0.5]
    assert data["loss_min"] == [1.0, 0.5]
    assert data["loss_max"] == [3.0, 0.5]
    assert data["time_per_epoch_s_mean"] == [3.0, 2.0]


def test_late_earlier_epoch_keeps_epoch_order():
    dashboard = _dashboard()
    run = _run_info()

    dashboard.sink.on_comparison_begin("c", [run])
    dashboard.sink.on_epoch_end(run, {"epoch": 3, "loss": 0.3})
    dashboard.flush()
    dashboard.sink.on_epoch_end(run, {"epoch": 1, "loss": 1.0})
    dashboard.flush()

    data = dashboard.epoch_sources["sgd"].data
    assert data["epoch"] == [1, 3]
    assert data["loss_mean"] == [1.0, 0.3]


def test_summary_table_updates_each_epoch():
    dashboard = _dashboard()
    run = _run_info()
    sink = dashboard.sink

    sink.on_comparison_begin("c", [run])
    sink.on_run_begin(run)
    before = dashboard.summary.value
    sink.on_epoch_end(run, {"epoch": 1, "loss": 2.0, "accuracy": 0.25, "time_per_epoch_s": 1.0})
    dashboard.flush()
    after_first = dashboard.summary.value
    sink.on_epoch_end(run, {"epoch": 2, "loss": 1.0, "accuracy": 0.5, "time_per_epoch_s": 1.0})
    dashboard.flush()
    after_second = dashboard.summary.value

    sink.on_run_end(run, "finished", "")
    sink.on_comparison_end("c")
    dashboard.flush()
    at_end = dashboard.summary.value

    assert before == ""
    assert "2.0000 / 2.0000 / 2.0000" in after_first
    assert "Summary so far:" in after_first
    assert "1.0000 / 1.5000 / 2.0000" in after_second
    assert "validation" not in after_second
    assert "Summary: min / mean / max" in at_end
    assert "1.0000 / 1.5000 / 2.0000" in at_end


# Figures, colours and progress.


def test_optimizer_colour_same_in_every_figure():
    from bokeh.models import Line, Scatter, VArea
    from bokeh.palettes import Colorblind

    optimizers = ("sgd", "adam", "adagrad")
    dashboard = _dashboard(runs=[(name, seed) for name in optimizers for seed in (0, 1)])
    owner = {source.id: name for name, source in dashboard.epoch_sources.items()}
    owner.update({source.id: name for (name, _), source in dashboard.batch_sources.items()})

    colours = {}
    for figure_name, fig in dashboard.figures.figures.items():
        for renderer in fig.renderers:
            name = owner.get(renderer.data_source.id)
            if name is None:
                continue  # the diverged-run markers, coloured per row
            glyph = renderer.glyph
            if isinstance(glyph, Line):
                colour = glyph.line_color
            elif isinstance(glyph, VArea):
                colour = glyph.fill_color
            else:
                assert isinstance(glyph, Scatter), type(glyph)
                colour = glyph.fill_color
            colours.setdefault(name, set()).add((colour, figure_name))

    for name in optimizers:
        assert {colour for colour, _ in colours[name]} == {dashboard.styles[name][0]}, name
        assert {figure for _, figure in colours[name]} == {"loss", "accuracy", "time", "batch"}, name
    assert len({dashboard.styles[name][0] for name in optimizers}) == 3
    assert set(PALETTE) <= set(Colorblind[8])
    batch_axis = dashboard.figures.figures["batch"].yaxis[0].axis_label
    assert "running mean of the epoch so far" in batch_axis


def test_progress_shows_run_epoch_batch_time():
    dashboard = _dashboard(runs=[("sgd", 0), ("adam", 0)])
    first = _run_info("sgd", 0, 0, 2, steps=10, epochs=3)
    second = _run_info("adam", 0, 1, 2, steps=10, epochs=3)
    sink = dashboard.sink

    sink.on_comparison_begin("c", [first, second])
    sink.on_run_begin(first)
    dashboard.flush()
    at_start = dashboard.progress_text.value
    for batch in range(10):
        sink.on_batch_end(first, 1, batch, {"loss": 1.0})
    sink.on_epoch_end(first, {"epoch": 1, "loss": 1.0, "time_per_epoch_s": 1.0})
    sink.on_batch_end(first, 2, 2, {"loss": 1.0})
    dashboard.flush()
    mid_run = dashboard.progress_text.value

    assert "Run 1 of 2: sgd, seed 0" in at_start
    assert "epoch 1 of 3" in at_start
    assert "elapsed" in at_start
    assert "estimated after the first epoch" in at_start
    assert "epoch 2 of 3" in mid_run
    assert "batch 3 of 10" in mid_run
    assert "left (estimate)" in mid_run
    assert dashboard.progress.value == pytest.approx(11 / 60)


def test_several_seeds_trained_live(tmp_path):
    live = LiveComparison(
        ["sgd"], seeds=[0, 1], dataset="fashion_mnist", download=False,
        output_dir=tmp_path / "out", **TINY,
    )

    live.start()
    result = live.wait()

    history = result.history
    data = live.dashboard.epoch_sources["sgd"].data
    for epoch in (1, 2):
        losses = history[history["epoch"] == epoch]["loss"]
        assert data["loss_min"][epoch - 1] == pytest.approx(losses.min())
        assert data["loss_max"][epoch - 1] == pytest.approx(losses.max())
        assert data["loss_mean"][epoch - 1] == pytest.approx(losses.mean())
    assert data["seeds"] == [2, 2]
    assert "final across seeds" in live.dashboard.summary.value


# Stop, Train and errors, through the buttons.


def test_stop_click_ends_training_within_two_seconds(tmp_path):
    live = _live(tmp_path, train_size=2000, epochs=40)
    dashboard = live.dashboard

    live.train_button.click()
    _wait_until(lambda: len(dashboard.history_rows) >= 1, 60, "the first epoch")
    rows_before = len(dashboard.history_rows)
    clicked = time.monotonic()
    live.stop_button.click()
    _wait_until(lambda: not live.running, 10, "the training thread to end")
    elapsed_s = time.monotonic() - clicked
    result = live.wait()

    assert elapsed_s < 2.0, f"training ended {elapsed_s:.2f} s after Stop"
    assert result.statuses == {("sgd", 0): "stopped", ("adam", 0): "pending"}
    stored = len(result.history)
    assert stored >= rows_before
    assert stored == len(dashboard.history_rows)
    assert not live.train_button.disabled
    assert live.stop_button.disabled
    assert dashboard.epoch_sources["sgd"].data["epoch"] == list(range(1, stored + 1))
    assert len(dashboard.batch_sources[("sgd", 0)].data["x"]) > 0
    lengths = {source.name: len(source.data["x"]) for source in dashboard.batch_sources.values()}
    dashboard.flush()
    assert lengths == {source.name: len(source.data["x"]) for source in dashboard.batch_sources.values()}
    assert "1 stopped, 1 pending" in live.message.value


class _StopDuringEvaluation(threading.Event):
    """A stop request that is seen only while Keras evaluates."""

    def is_set(self):
        return any(frame.name == "evaluate" for frame in traceback.extract_stack())


def test_stop_during_evaluation_drops_epoch(tmp_path):
    result = compare(
        ["sgd"], dataset="fashion_mnist", download=False, output_dir=tmp_path / "out",
        stop_event=_StopDuringEvaluation(), eval_batch_size=8, **TINY,
    )

    assert result.statuses == {("sgd", 0): "stopped"}
    assert result.history.empty
    assert "while evaluating epoch 1" in result.runs[0]["message"]


def test_second_train_click_starts_nothing(tmp_path):
    live = _live(tmp_path, train_size=2000, epochs=3)

    live.train_button.click()
    live.train_button.click()
    second_message = live.message.value
    running_after_second = live.running
    live.stop()
    live.wait()

    assert running_after_second
    assert live.comparisons_started == 1
    assert "already training" in second_message
    store = ResultsStore(sqlite_url(tmp_path / "out" / "results.db"))
    assert len(store.comparisons()) == 1


def test_thread_error_shown_and_controls_reset(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the output folder should go")
    live = LiveComparison(["sgd"], dataset="fashion_mnist", download=False, output_dir=blocker, **TINY)

    live.train_button.click()
    with pytest.raises(Exception) as raised:
        live.wait()

    assert type(raised.value).__name__ == "ConfigError"
    assert "ConfigError: Cannot create the output folder" in live.message.value
    assert not live.train_button.disabled
    assert live.stop_button.disabled
    log = "".join(output["text"] for output in live.log.outputs)
    assert "Traceback" in log
    assert "Cannot create the output folder" in log
    live.train_button.click()
    with pytest.raises(Exception):
        live.wait()
    assert live.comparisons_started == 2


def test_run_error_marks_run_failed_and_reaches_page(tmp_path, monkeypatch):
    import warnings

    from labkit.training import runner

    real_build = runner.build_training_model

    def build(config, input_shape, num_classes):
        print(f"building {config.optimizer} in {threading.current_thread().name}")
        if config.optimizer == "adam":
            warnings.warn("adam is about to fail", UserWarning)
            raise RuntimeError("injected failure")
        return real_build(config, input_shape, num_classes)

    monkeypatch.setattr(runner, "build_training_model", build)
    live = _live(tmp_path, optimizers=("adam", "sgd"))

    live.train_button.click()
    result = live.wait()

    assert result.statuses == {("adam", 0): "failed", ("sgd", 0): "finished"}
    assert "failed</span>: RuntimeError: injected failure" in live.dashboard.run_table.value
    log = "".join(output["text"] for output in live.log.outputs)
    assert "building adam in labkit-training" in log
    assert "adam is about to fail" in log
    assert "RuntimeError: injected failure" in log
    assert "1 failed, 1 finished" in live.message.value
    assert not live.train_button.disabled


def test_updates_reach_widget_from_training_thread(tmp_path):
    live = _live(tmp_path, optimizers=("sgd",))
    sent = []
    guard = threading.Lock()
    sending = {"now": 0, "max": 0}

    def record(content, buffers=None):
        with guard:
            sending["now"] += 1
            sending["max"] = max(sending["max"], sending["now"])
        time.sleep(0.001)  # widens the window in which two threads would overlap
        sent.append((threading.current_thread().name, content))
        with guard:
            sending["now"] -= 1

    live.dashboard.plots.send = record
    live.start()
    # Not `wait`, which would apply some of the updates on this thread.
    _wait_until(lambda: not live.running, 120, "the training thread to end")
    live.dashboard.flush()

    batch_source = live.dashboard.batch_sources[("sgd", 0)]
    streamed_rows = 0
    for thread, content in sent:
        if content.get("msg") != "patch" or '"ColumnsStreamed"' not in content.get("payload", ""):
            continue
        for event in json.loads(content["payload"])["events"]:
            if event["kind"] == "ColumnsStreamed" and event["model"]["id"] == batch_source.id:
                streamed_rows += len(event["data"]["entries"][0][1])
    threads = {thread for thread, content in sent if '"ColumnsStreamed"' in content.get("payload", "")}
    # Outside a kernel the training thread applies its own updates, and the
    # last `flush` applies what is left on the main thread.
    assert "labkit-training" in threads
    assert threads <= {"labkit-training", "MainThread"}
    assert streamed_rows == len(batch_source.data["x"]) == 2 * math.ceil(120 / 32)
    assert sending["max"] == 1, "two threads sent to the widget at once"


# Jupyter environment.


def test_missing_jupyter_bokeh_named(monkeypatch):
    monkeypatch.setitem(sys.modules, "jupyter_bokeh", None)

    with pytest.raises(LiveDisplayError, match=r"pip install jupyter_bokeh"):
        check_live_support()


def test_missing_bokehjs_file_named(monkeypatch, tmp_path):
    import bokeh.util.paths

    monkeypatch.setattr(bokeh.util.paths, "bokehjs_path", lambda *args, **kwargs: tmp_path)

    with pytest.raises(LiveDisplayError, match=r"BokehJS file .*bokeh\.min\.js.* is missing"):
        check_live_support()


def test_missing_labextension_named(monkeypatch):
    from labkit.live import _frontend

    monkeypatch.setattr(_frontend, "_labextension_version", lambda: None)

    with pytest.raises(LiveDisplayError, match=r"its JupyterLab extension \(@bokeh/jupyter_bokeh\) was not found"):
        check_live_support()


def test_missing_jupyter_bokeh_raises_before_training(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "jupyter_bokeh", None)

    with pytest.raises(LiveDisplayError, match=r"needs the jupyter_bokeh package"):
        _live(tmp_path)

    assert not (tmp_path / "out").exists()


def test_history_figures_from_history():
    import pandas as pd
    from bokeh.models import ColumnDataSource, LegendItem

    history = pd.DataFrame({
        "optimizer": ["sgd", "sgd", "adam"], "seed": [0, 0, 0], "epoch": [1, 2, 1],
        "loss": [2.0, 1.0, 1.5], "accuracy": [0.3, 0.5, 0.4], "time_per_epoch_s": [3.0, 2.0, 2.5],
        "val_loss": [np.nan, np.nan, 1.6], "val_accuracy": [np.nan, np.nan, 0.45],
    })

    layout = history_figures(history)

    sources = {model.name: model for model in layout.select({"type": ColumnDataSource})}
    assert sources["labkit-epochs-sgd"].data["loss_mean"] == [2.0, 1.0]
    assert sources["labkit-epochs-adam"].data["val_loss_mean"] == [1.6]
    visible = {item.label["value"] for item in layout.select({"type": LegendItem}) if item.visible}
    assert "adam validation" in visible
    assert "sgd validation" not in visible


@pytest.mark.slow
def test_kernel_streams_while_training(tmp_path, fashion_available):
    from bokeh.util.paths import bokehjs_path
    from jupyter_client.manager import start_new_kernel

    setup = f"""
from labkit.live import LiveComparison
live = LiveComparison(["sgd"], dataset="fashion_mnist", download=False,
                      output_dir={str(tmp_path / 'out')!r}, model="mlp",
                      model_options={{"hidden_units": [16]}}, epochs=6, batch_size=32,
                      augmentation=False, validation=0.25, train_size=4000)
live.display()
live.start()
"""
    manager, client = start_new_kernel(kernel_name="python3", startup_timeout=60, cwd=str(tmp_path))
    try:
        events = []  # ("patch", None) or ("running", bool), in IOPub order
        scripts = []  # JavaScript that the kernel displayed

        def execute(code):
            msg_id = client.execute(code)
            while True:
                message = client.get_iopub_msg(timeout=60)
                content = message["content"]
                if message["msg_type"] == "comm_msg":
                    data = content["data"].get("content", {})
                    if data.get("msg") == "patch" and '"ColumnsStreamed"' in str(data.get("payload")):
                        events.append(("patch", None))
                elif message["msg_type"] == "stream" and content["text"].strip() in ("True", "False"):
                    events.append(("running", content["text"].strip() == "True"))
                elif message["msg_type"] == "display_data":
                    scripts.append(content["data"].get("application/javascript", ""))
                elif message["msg_type"] == "error":
                    raise AssertionError("\n".join(content["traceback"]))
                elif (message["msg_type"] == "status" and content["execution_state"] == "idle"
                      and message["parent_header"].get("msg_id") == msg_id):
                    return

        execute(setup)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            time.sleep(0.3)
            execute("print(live.running)")
            if events[-1] == ("running", False):
                break
        execute("assert live.dashboard.queue.io_loop is not None; assert live.error is None")
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)

    bokehjs = (pathlib.Path(bokehjs_path()) / "js" / "bokeh.min.js").read_text()
    # Bokeh escapes quotes and line ends when it inlines the file, so the
    # sample is a stretch of code without them.
    sample = re.search(r"[\w.(){}=,;:+*<>!?&|\[\] -]{120}", bokehjs[len(bokehjs) // 2:]).group(0)
    assert any(sample in script for script in scripts), "BokehJS was not sent inline"
    assert not any("cdn.bokeh.org" in script for script in scripts)
    first_patch = events.index(("patch", None))
    assert ("running", True) in events[first_patch:], "no stream arrived while training ran"
    assert events[-1] == ("running", False)
