"""Time training under the live dashboard against plain `model.fit`.

Both sides run in one real Jupyter kernel, which this script starts through
jupyter_client, so the live side does what it does in JupyterLab. The
dashboard is displayed and training runs in `LiveComparison`'s background
thread. The kernel's IO loop applies the queued updates and sends every Bokeh
change as a comm message of jupyter_bokeh's `BokehModel`. This script plays
the browser's part only by reading those messages off the IOPub channel and
counting them. It asks the kernel every `--poll-s` seconds whether training
still runs, which costs the kernel one tiny cell each time.

- plain: `model.fit(x, y, batch_size=..., epochs=E, verbose=0)` on a model
  from `labkit.training.build_training_model`, without validation.
- live: `LiveComparison([optimizer], ...)` on the same data, model, seed and
  batch size, without validation, started as the Train button starts it.
  labkit's runner calls `fit` once per epoch, on a copy of the arrays in
  that epoch's shuffled order, and makes the copy before the epoch starts.

An epoch's time is that of Keras' training loop, from `on_epoch_begin` to
`on_epoch_end`: for plain `fit` a small callback records it, and labkit's
runner stores the same span as `time_per_epoch_s`. Evaluation, the results
store and checkpoints fall outside it, so the ratio shows what the
dashboard costs while the model trains: the per-batch callback and queue,
and the updates that the IO loop applies meanwhile. The first epoch of every
run includes tracing and is left out. The sides alternate in order (plain
first in even repeats, live first in odd ones), so slow drifts of the
machine hit both. The script prints every epoch time and, at the end, the
median of each side and the ratio live / plain; the aim is at most 1.03.

Run it on an otherwise idle machine, from the repository root:

    python benchmarks/live_overhead.py
    python benchmarks/live_overhead.py --epochs 2 --train-size 320 --repeats 2 --hidden-units 16

The first line uses the defaults: 30,000 images, an MLP with 128 hidden
units, 6 epochs and 4 repeats. They are sized for about 5 minutes on two idle
CPU cores, an estimate that was not measured on an idle machine.
The second is a smoke test of well under a minute that checks that the
script runs, and its numbers mean nothing.

It needs Fashion-MNIST in a folder that `labkit.data.load_dataset` finds
(`--data-dir`, `LABKIT_DATA_DIR` or `/usr/share/datasets/fashion-mnist`).
"""

import argparse
import json
import os
import pathlib
import queue
import statistics
import sys
import tempfile
import time

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
RESULT_MARK = "LABKIT-BENCHMARK "


# Code that runs inside the kernel, imported there from this file.


def kernel_setup(settings):
    """Load the data once per kernel, with `settings` built from the options."""
    global _settings, _dataset

    from labkit._startup import import_keras_quietly

    import_keras_quietly()
    from labkit.data import load_dataset

    _settings = settings
    _dataset = load_dataset(
        "fashion_mnist", data_dir=settings["data_dir"], train_size=settings["train_size"],
        validation=None, seed=settings["seed"], download=False,
    )


def _run_settings():
    return {
        "model": _settings["model"],
        "model_options": _settings["model_options"],
        "epochs": _settings["epochs"],
        "batch_size": _settings["batch_size"],
        "augmentation": False,
        "validation": None,
        "train_size": _settings["train_size"],
    }


def kernel_plain():
    """Train with plain `model.fit` and print the epoch times."""
    import keras

    from labkit.training import RunConfig, build_training_model

    class EpochTimes(keras.callbacks.Callback):
        def __init__(self):
            super().__init__()
            self.times_s = []

        def on_epoch_begin(self, epoch, logs=None):
            self._started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            self.times_s.append(time.perf_counter() - self._started)

    config = RunConfig(
        optimizer=_settings["optimizer"], dataset="fashion_mnist", seed=_settings["seed"],
        **_run_settings(),
    )
    model = build_training_model(config, _dataset.input_shape, _dataset.num_classes)
    clock = EpochTimes()
    model.fit(
        _dataset.x_train, _dataset.y_train, batch_size=config.batch_size,
        epochs=config.epochs, verbose=0, callbacks=[clock],
    )
    print(RESULT_MARK + json.dumps({"times_s": clock.times_s}))


def kernel_start_live(output_dir):
    """Display a `LiveComparison` and start it, as the Train button does."""
    global _live

    from labkit.live import LiveComparison

    _live = LiveComparison(
        [_settings["optimizer"]], seeds=[_settings["seed"]], dataset=_dataset,
        output_dir=output_dir, **_run_settings(),
    )
    _live.display()
    _live.train_button.click()


def kernel_live_running():
    print(RESULT_MARK + json.dumps({"running": _live.running}))


def kernel_live_result():
    """Print the stored epoch times of the live run, or its error."""
    if _live.error is not None:
        raise _live.error
    history = _live.result.history.sort_values("epoch")
    statuses = sorted(set(_live.result.statuses.values()))
    print(RESULT_MARK + json.dumps({
        "times_s": [float(value) for value in history["time_per_epoch_s"]],
        "statuses": statuses,
        "messages": [run["message"] for run in _live.result.runs if run["message"]],
        "queue_flushes": _live.dashboard.queue.flush_count,
    }))


# The driver, in this script's process.


class Kernel:
    """A Jupyter kernel that runs cells and counts the dashboard's messages."""

    def __init__(self, startup_timeout_s=120):
        from jupyter_client.manager import start_new_kernel

        self.manager, self.client = start_new_kernel(
            kernel_name="python3", startup_timeout=startup_timeout_s,
        )
        self.patch_messages = 0

    def execute(self, code, timeout_s):
        """Run `code` and return the last result that it printed, decoded."""
        msg_id = self.client.execute(code)
        result = None
        deadline = time.monotonic() + timeout_s
        while True:
            left_s = deadline - time.monotonic()
            if left_s <= 0:
                raise TimeoutError(f"Timed out after {timeout_s} s waiting for the kernel to run {code!r}.")
            try:
                message = self.client.get_iopub_msg(timeout=left_s)
            except queue.Empty:
                continue
            content = message["content"]
            kind = message["msg_type"]
            if kind == "comm_msg" and content["data"].get("content", {}).get("msg") == "patch":
                self.patch_messages += 1
            elif kind == "stream":
                for line in content["text"].splitlines():
                    if line.startswith(RESULT_MARK):
                        result = json.loads(line[len(RESULT_MARK):])
            elif kind == "error" and message["parent_header"].get("msg_id") == msg_id:
                raise RuntimeError("The kernel raised:\n" + "\n".join(content["traceback"]))
            elif (kind == "status" and content["execution_state"] == "idle"
                  and message["parent_header"].get("msg_id") == msg_id):
                return result

    def shutdown(self):
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=True)


def time_plain(kernel, timeout_s):
    return kernel.execute("bench.kernel_plain()", timeout_s)["times_s"]


def time_live(kernel, output_dir, poll_s, timeout_s):
    before = kernel.patch_messages
    kernel.execute(f"bench.kernel_start_live({str(output_dir)!r})", timeout_s)
    deadline = time.monotonic() + timeout_s
    while kernel.execute("bench.kernel_live_running()", timeout_s)["running"]:
        if time.monotonic() > deadline:
            raise TimeoutError(f"Timed out after {timeout_s} s waiting for the live run to end.")
        time.sleep(poll_s)
    result = kernel.execute("bench.kernel_live_result()", timeout_s)
    if result["statuses"] != ["finished"]:
        raise RuntimeError(
            f"The live run ended as {result['statuses']} instead of finished: {result['messages']}"
        )
    return result["times_s"], kernel.patch_messages - before, result["queue_flushes"]


def _parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=6,
                        help="epochs per run; the first is not timed (default 6)")
    parser.add_argument("--train-size", type=int, default=30000,
                        help="Fashion-MNIST training images (default 30000)")
    parser.add_argument("--repeats", type=int, default=4,
                        help="runs of each side, alternating in order (default 4)")
    parser.add_argument("--model", default="mlp", choices=("mlp", "cifar10_cnn"),
                        help="labkit model to train (default mlp)")
    parser.add_argument("--hidden-units", default="128",
                        help="for --model mlp: comma-separated units of the hidden layers (default 128)")
    parser.add_argument("--batch-size", type=int, default=32, help="images per step (default 32)")
    parser.add_argument("--optimizer", default="adam", help="labkit optimizer name (default adam)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the data subset and weights (default 0)")
    parser.add_argument("--data-dir", default=os.environ.get("LABKIT_DATA_DIR", DEFAULT_DATA_DIR),
                        help=f"folder with the Fashion-MNIST files (default {DEFAULT_DATA_DIR})")
    parser.add_argument("--poll-s", type=float, default=1.0,
                        help="seconds between two checks whether the live run still trains (default 1)")
    parser.add_argument("--timeout-s", type=float, default=1800,
                        help="seconds that one run may take at most (default 1800)")
    args = parser.parse_args(argv)
    if args.epochs < 2:
        parser.error(f"--epochs must be at least 2, because the first epoch is not timed. Received: {args.epochs}")
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1. Received: {args.repeats}")
    return args


def main(argv=None):
    args = _parse_args(argv)
    model_options = {}
    if args.model == "mlp":
        model_options["hidden_units"] = [int(units) for units in args.hidden_units.split(",")]
    settings = {
        "data_dir": args.data_dir, "train_size": args.train_size, "seed": args.seed,
        "model": args.model, "model_options": model_options, "epochs": args.epochs,
        "batch_size": args.batch_size, "optimizer": args.optimizer,
    }

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    started = time.monotonic()
    kernel = Kernel()
    plain, live = [], []
    try:
        benchmark_dir = str(pathlib.Path(__file__).resolve().parent)
        kernel.execute(
            f"import sys; sys.path.insert(0, {benchmark_dir!r}); import live_overhead as bench; "
            f"bench.kernel_setup({settings!r})",
            args.timeout_s,
        )
        print(f"Fashion-MNIST, {args.train_size} training images, {args.model} {model_options or ''}, "
              f"{args.optimizer}, batch {args.batch_size}, {args.epochs} epochs (first not timed), "
              f"{args.repeats} repeats, Python {sys.version.split()[0]}, one Jupyter kernel")
        with tempfile.TemporaryDirectory() as folder:
            for repeat in range(args.repeats):
                order = ("plain", "live") if repeat % 2 == 0 else ("live", "plain")
                for side in order:
                    if side == "plain":
                        times_s = time_plain(kernel, args.timeout_s)[1:]
                        plain += times_s
                        detail = ""
                    else:
                        output_dir = pathlib.Path(folder) / f"live-{repeat}"
                        times_s, patches, flushes = time_live(kernel, output_dir, args.poll_s, args.timeout_s)
                        times_s = times_s[1:]
                        live += times_s
                        detail = f"  ({patches} BokehModel patch messages, {flushes} queue flushes)"
                    times_text = ", ".join(f"{value:.3f}" for value in times_s)
                    print(f"repeat {repeat + 1} {side:<5} s/epoch: {times_text}{detail}", flush=True)
    finally:
        kernel.shutdown()

    plain_median = statistics.median(plain)
    live_median = statistics.median(live)
    print(f"median s/epoch: plain {plain_median:.3f}, live {live_median:.3f}, "
          f"ratio live / plain {live_median / plain_median:.3f} (aim: at most 1.03)")
    print(f"total {time.monotonic() - started:.0f} s")


if __name__ == "__main__":
    main()
