"""Train a comparison in a background thread under a live dashboard.

The kernel's main thread stays free while training runs, so the Stop
button, the plots' tools and other cells keep working. Training ends at the
next batch end after Stop (the runner's stop event), and whatever the
training thread prints, logs or raises is shown in the page.
"""

import html
import logging
import threading
import time
import traceback

import ipywidgets

from labkit._startup import import_keras_quietly

# In a kernel, ipykernel forwards what native code writes to descriptor 2 into
# the page, where TensorFlow's start-up lines would look like errors.
import_keras_quietly()

from labkit.live._capture import captured_output  # noqa: E402
from labkit.live._dashboard import DEFAULT_BATCH_POINTS, Dashboard  # noqa: E402
from labkit.live._frontend import load_bokehjs, running_kernel  # noqa: E402
from labkit.live._updates import DEFAULT_INTERVAL_S  # noqa: E402
from labkit.training.runner import DEFAULT_OPTIMIZERS, build_run_configs, compare  # noqa: E402

logger = logging.getLogger(__name__)

# Keyword arguments of `compare` that are not `RunConfig` fields.
COMPARE_OPTIONS = ("store", "output_dir", "name", "data_dir", "download", "dataset")


class LiveComparison:
    """A comparison with live plots, trained in a background thread.

    Displaying the object shows Train and Stop buttons, the progress, the
    run statuses, the figures and the summary table. Train (or `start()`)
    trains every run with `labkit.training.compare`; Stop (or `stop()`)
    ends training at the next batch end, keeps every finished epoch in the
    results store and marks the run stopped.

    Args:
        optimizers: Registered optimizer names. Defaults to
            `("sgd", "adam", "adagrad")`.
        seeds: Seeds; every optimizer runs once per seed. Defaults to `(0,)`.
        hyperparameters: Overrides per optimizer, as in `compare`.
        batch_points: Points kept per run in the per-batch figure. Defaults
            to 5000.
        update_interval_s: Minimum time between two updates of the page,
            in seconds. Defaults to 0.1.
        **options: The other arguments of `compare`: `dataset`,
            `output_dir`, `store`, `name`, `data_dir`, `download` and the
            `RunConfig` fields (`epochs`, `batch_size`, `model`, ...).

    Raises:
        LiveDisplayError: if jupyter_bokeh or the BokehJS files are missing.
        LabkitError: for any invalid setting, before anything is shown.

    Example:

    ```python
    live = LiveComparison(["sgd", "adam"], dataset="fashion_mnist", epochs=5)
    live                   # shows the dashboard
    live.start()           # or press Train
    result = live.wait()   # a ComparisonResult, once training ends
    ```
    """

    def __init__(self, optimizers=DEFAULT_OPTIMIZERS, *, seeds=(0,), hyperparameters=None,
                 batch_points=DEFAULT_BATCH_POINTS, update_interval_s=DEFAULT_INTERVAL_S,
                 **options):
        self._optimizers = [optimizers] if isinstance(optimizers, str) else list(optimizers)
        self._seeds = [seeds] if isinstance(seeds, int) else list(seeds)
        self._hyperparameters = hyperparameters
        self._options = options
        settings = {key: value for key, value in options.items() if key not in COMPARE_OPTIONS}
        dataset = options.get("dataset")
        if dataset is not None:
            settings["dataset"] = dataset if isinstance(dataset, str) else dataset.name
        configs = build_run_configs(self._optimizers, self._seeds, hyperparameters, **settings)

        self.dashboard = Dashboard(
            [(config.optimizer, config.seed) for config in configs],
            batch_points=batch_points,
            update_interval_s=update_interval_s,
        )
        self.dashboard.listeners.append(self._apply_events)
        self.train_button = ipywidgets.Button(description="Train", icon="play", button_style="success")
        self.train_button.add_class("labkit-train")
        self.stop_button = ipywidgets.Button(description="Stop", icon="stop", disabled=True)
        self.stop_button.add_class("labkit-stop")
        self.message = ipywidgets.HTML()
        self.message.add_class("labkit-message")
        self.log = ipywidgets.Output(layout=ipywidgets.Layout(max_height="240px", overflow="auto"))
        self.train_button.on_click(self._on_train)
        self.stop_button.on_click(self._on_stop)
        self.widget = ipywidgets.VBox([
            ipywidgets.HBox([self.train_button, self.stop_button, self.message]),
            self.dashboard.widget,
            self.log,
        ])

        self.result = None
        self.error = None
        self.comparisons_started = 0
        self._thread = None
        self._stop_event = None
        self._start_lock = threading.Lock()

    @property
    def running(self):
        """Whether a training thread is running."""
        return self._thread is not None and self._thread.is_alive()

    # Controls, on the kernel's main thread.

    def _on_train(self, _button):
        try:
            self.start()
        except Exception as error:
            logger.exception("Training did not start.")
            self._show_message(f"Training did not start: {type(error).__name__}: {error}", "error")
            self.train_button.disabled = False

    def _on_stop(self, _button):
        self.stop()

    def start(self):
        """Start training in a background thread, unless it is running already.

        Returns:
            True if training started, False if a comparison was running.
        """
        with self._start_lock:
            if self.running:
                self._show_message(
                    "A comparison is already training; press Stop to end it before starting another.",
                    "warning",
                )
                return False
            self.train_button.disabled = True
            self.dashboard.flush()
            self.dashboard.queue.clear()
            self.dashboard.reset()
            self.log.outputs = ()
            self.result = None
            self.error = None
            self._stop_event = threading.Event()
            self._thread = threading.Thread(
                target=self._train, args=(self._stop_event,), name="labkit-training", daemon=True
            )
            self.comparisons_started += 1
            self.stop_button.disabled = False
            self._show_message("Training...", "info")
            self._thread.start()
            return True

    def stop(self):
        """Ask training to end at the next batch end; return at once."""
        if not self.running:
            return
        self._stop_event.set()
        self.stop_button.disabled = True
        self._show_message("Stopping at the end of the current batch...", "info")

    def wait(self, timeout_s=None):
        """Block until training ends, updating the page meanwhile.

        While this runs, the kernel handles no button clicks, so Stop
        cannot be pressed; interrupting the kernel stops training instead,
        as Stop would, and raises `KeyboardInterrupt` once it has ended.

        Args:
            timeout_s: Seconds to wait at most; `None` waits until the end.

        Returns:
            The `ComparisonResult`, or `None` if training never started.

        Raises:
            TimeoutError: if training still runs after `timeout_s`.
            Exception: the exception that ended training, if any.
        """
        thread = self._thread
        if thread is None:
            return None
        interrupted = None
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        interval_s = max(self.dashboard.queue.interval_s, 0.01)
        while thread.is_alive():
            try:
                thread.join(interval_s)
                self.dashboard.flush()
            except KeyboardInterrupt as error:
                interrupted = error
                logger.warning("Interrupted: stopping training at the next batch end.")
                self.stop()
            if deadline is not None and time.monotonic() >= deadline and thread.is_alive():
                raise TimeoutError(
                    f"Training still runs after timeout_s={timeout_s} s. Call wait() again, "
                    "or stop() first to end it at the next batch end."
                )
        self.dashboard.flush()
        if interrupted is not None:
            raise interrupted
        if self.error is not None:
            raise self.error
        return self.result

    # The training thread.

    def _train(self, stop_event):
        queue = self.dashboard.queue
        error = None

        def show(kind, text):
            queue.put(("output", kind, text))

        try:
            with captured_output(show):
                try:
                    self.result = compare(
                        self._optimizers,
                        seeds=self._seeds,
                        hyperparameters=self._hyperparameters,
                        sinks=[self.dashboard.sink],
                        stop_event=stop_event,
                        **self._options,
                    )
                except Exception as caught:
                    error = caught
                    logger.error("Training failed.", exc_info=True)
        finally:
            self.error = error
            queue.put(("done", self.result, error), urgent=True)
            if queue.broken:
                # The queue drops events after a failed update; the controls
                # must come back anyway. ipykernel sends widget messages from
                # any thread.
                self._finish(self.result, error)

    # Events from the training thread, applied on the dashboard's thread.

    def _apply_events(self, events):
        texts = []
        for kind, *args in events:
            if kind == "output":
                texts.append(args)
            elif kind == "done":
                self._flush_texts(texts)
                texts = []
                self._finish(*args)
        self._flush_texts(texts)

    def _flush_texts(self, texts):
        # One append per run of text from the same stream keeps the number
        # of widget messages low.
        merged = []
        for kind, text in texts:
            stream = "stdout" if kind == "stdout" else "stderr"
            if merged and merged[-1][0] == stream:
                merged[-1][1].append(text)
            else:
                merged.append((stream, [text]))
        for stream, parts in merged:
            if stream == "stdout":
                self.log.append_stdout("".join(parts))
            else:
                self.log.append_stderr("".join(parts))

    def _finish(self, result, error):
        self.train_button.disabled = False
        self.stop_button.disabled = True
        if error is not None:
            self._show_message(f"Training failed: {type(error).__name__}: {error}", "error")
            self.log.append_stderr("".join(traceback.format_exception(error)))
            return
        statuses = [run["status"] for run in result.runs]
        counts = ", ".join(
            f"{statuses.count(status)} {status}" for status in dict.fromkeys(statuses)
        )
        level = "warning" if {"failed", "diverged", "stopped"} & set(statuses) else "success"
        self._show_message(f"Comparison ended: {counts}. Results in {result.output_dir}.", level)

    def _show_message(self, text, level):
        colors = {"error": "#D55E00", "warning": "#E69F00", "success": "#009E73", "info": "inherit"}
        self.message.value = f'<span style="color:{colors[level]}">{html.escape(text)}</span>'

    def _ipython_display_(self):
        from IPython.display import display

        load_bokehjs()
        display(self.widget)

    def display(self):
        """Show the dashboard in the notebook."""
        self._ipython_display_()


def compare_live(optimizers=DEFAULT_OPTIMIZERS, **options):
    """Show a live dashboard and start training in the background.

    Takes the arguments of `LiveComparison` and returns it, already
    training; call its `wait()` for the `ComparisonResult`.
    """
    live = LiveComparison(optimizers, **options)
    if running_kernel() is not None:
        live.display()
    live.start()
    return live


__all__ = ["COMPARE_OPTIONS", "LiveComparison", "compare_live"]
