"""The live dashboard: figures, progress, run statuses and the summary table.

A `Dashboard` owns Bokeh data sources and ipywidgets. Its `sink` runs in
the training thread and only queues events; `apply` turns a batch of events
into at most one `stream` (and one `patch`) per data source and one update
per widget, on the thread that owns the document (see `UpdateQueue`).
"""

import html
import logging
import math
import time

import ipywidgets

from labkit import stats
from labkit.live._aggregate import EpochAggregator, finite_or_nan
from labkit.live._figures import (
    batch_columns,
    build_figures,
    epoch_columns,
    marker_columns,
    new_sources,
    optimizer_styles,
)
from labkit.live._frontend import check_live_support, kernel_io_loop
from labkit.live._sink import LiveSink
from labkit.live._updates import DEFAULT_INTERVAL_S, UpdateQueue

logger = logging.getLogger(__name__)

DEFAULT_BATCH_POINTS = 5000
STATUS_COLORS = {"failed": "#D55E00", "diverged": "#D55E00", "stopped": "#E69F00"}


def format_duration(seconds):
    """Format seconds as `h:mm:ss`."""
    seconds = int(round(seconds))
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Dashboard:
    """Live plots, progress and summary table of one comparison.

    Args:
        runs: The comparison's `(optimizer, seed)` pairs in training order;
            they fix the colours and the data sources before training.
        batch_points: Points kept per run in the per-batch figure; older
            points roll over. Epoch data is kept whole. Defaults to 5000.
        update_interval_s: Minimum time between two updates of the page,
            in seconds. Defaults to 0.1.
        io_loop: Tornado IO loop to update the page on. Defaults to the
            running kernel's, or none outside a kernel (updates then happen
            in the thread that sends the event).

    Attributes:
        sink: A `labkit.training.Sink` to pass to `compare` or `resume`.
        widget: The ipywidgets box to display.
        history_rows: Every epoch row received, as stored, with the run's
            `optimizer`, `seed` and `run_id`.
    """

    def __init__(self, runs, *, batch_points=DEFAULT_BATCH_POINTS,
                 update_interval_s=DEFAULT_INTERVAL_S, io_loop="auto"):
        check_live_support()
        from jupyter_bokeh import BokehModel

        if isinstance(batch_points, bool) or not isinstance(batch_points, int) or batch_points < 1:
            raise ValueError(
                f"batch_points must be an integer >= 1. Received: batch_points={batch_points!r}"
            )
        self.runs = [(optimizer, seed) for optimizer, seed in runs]
        self.batch_points = batch_points
        self.styles = optimizer_styles(optimizer for optimizer, _ in self.runs)
        self.epoch_sources, self.batch_sources, self.marker_sources = new_sources(self.runs)
        self.figures = build_figures(
            self.epoch_sources, self.styles,
            batch_sources=self.batch_sources, marker_sources=self.marker_sources,
        )

        self.plots = BokehModel(self.figures.layout)
        self.progress = ipywidgets.FloatProgress(
            value=0.0, min=0.0, max=1.0, layout=ipywidgets.Layout(width="240px")
        )
        self.progress_text = ipywidgets.HTML("Not started.")
        self.progress_text.add_class("labkit-progress")
        self.run_table = ipywidgets.HTML()
        self.run_table.add_class("labkit-runs")
        self.summary = ipywidgets.HTML()
        self.summary.add_class("labkit-summary")
        self.widget = ipywidgets.VBox([
            ipywidgets.HBox([self.progress, self.progress_text]),
            self.run_table,
            self.plots,
            self.summary,
        ])

        if io_loop == "auto":
            io_loop = kernel_io_loop()
        self.queue = UpdateQueue(self.apply, interval_s=update_interval_s, io_loop=io_loop)
        self.sink = LiveSink(self.queue)
        self.listeners = []
        self._aggregator = EpochAggregator()
        self._reset_state()
        self._render_runs()

    # Event handling, on the thread that owns the document.

    def apply(self, events):
        """Apply queued events to the plots and widgets, oldest first."""
        segment = []
        for event in events:
            if event[0] == "comparison_begin" and segment:
                self._apply_segment(segment)
                segment = []
            segment.append(event)
        self._apply_segment(segment)
        for listener in self.listeners:
            listener(events)

    def _apply_segment(self, events):
        batches, touched, markers = {}, {}, {}
        for kind, *args in events:
            if kind == "comparison_begin":
                self.reset()
                self._begin(*args)
            elif kind == "run_begin":
                self._run_begin(*args)
            elif kind == "batch":
                self._batch(batches, *args)
            elif kind == "epoch":
                self._epoch(touched, *args)
            elif kind == "run_end":
                self._run_end(markers, *args)
            elif kind == "comparison_end":
                self._phase = "ended"
        for key, columns in batches.items():
            self.batch_sources[key].stream(columns, rollover=self.batch_points)
        self._update_epoch_sources(touched)
        for name, columns in markers.items():
            self.marker_sources[name].stream(columns)
            self.figures.marker_items[name].visible = True
        ended = any(kind == "comparison_end" for kind, *_ in events)
        if touched or (ended and self.history_rows):
            self._render_summary()
        if any(kind != "batch" for kind, *_ in events):
            self._render_runs()
        self._render_progress()

    def _begin(self, comparison_id, runs):
        self._comparison_id = comparison_id
        self._statuses = {(run.optimizer, run.seed): ("pending", "") for run in runs}
        self._total_steps = sum(run.config.epochs * run.steps_per_epoch for run in runs)
        self._started_at = time.monotonic()
        self._phase = "training"

    def _run_begin(self, run):
        self._statuses[(run.optimizer, run.seed)] = ("running", "")
        self._total_steps -= run.start_epoch * run.steps_per_epoch
        self._current = (run, run.start_epoch + 1, None)
        self._known(run)

    def _known(self, run):
        key = (run.optimizer, run.seed)
        if key in self.batch_sources:
            return True
        if key not in self._unknown:
            self._unknown.add(key)
            logger.warning(
                "The dashboard was built for the runs %s and has no curve for %s, seed %s; "
                "its epochs still count in the summary table.",
                self.runs, run.optimizer, run.seed,
            )
        return False

    def _batch(self, batches, run, epoch, batch, logs):
        self._steps_done += 1
        self._current = (run, epoch, batch)
        key = (run.optimizer, run.seed)
        if key not in self.batch_sources:
            return
        columns = batches.get(key)
        if columns is None:
            columns = batches[key] = batch_columns()
        x = epoch - 1 + (batch + 1) / run.steps_per_epoch
        loss = finite_or_nan(logs.get("loss"))
        columns["x"].append(x)
        columns["epoch"].append(epoch)
        columns["batch"].append(batch)
        columns["loss"].append(loss)
        columns["accuracy"].append(finite_or_nan(logs.get("accuracy")))
        if not math.isnan(loss):
            self._last_finite.setdefault(key, {})["batch"] = (x, loss)

    def _epoch(self, touched, run, row):
        key = (run.optimizer, run.seed)
        self.history_rows.append(
            {"optimizer": run.optimizer, "seed": run.seed, "run_id": run.run_id, **row}
        )
        self._aggregator.add(run.optimizer, run.seed, row)
        touched.setdefault(run.optimizer, set()).add(int(row["epoch"]))
        for metric in ("loss", "accuracy"):
            value = finite_or_nan(row.get(metric))
            if not math.isnan(value):
                self._last_finite.setdefault(key, {})[metric] = (int(row["epoch"]), value)
        self._epochs_done += 1
        self._current = (run, int(row["epoch"]) + 1, None)

    def _run_end(self, markers, run, status, message):
        key = (run.optimizer, run.seed)
        self._statuses[key] = (status, message)
        if status != "diverged" or not self._known(run):
            return
        color, _ = self.styles[run.optimizer]
        for name, point in self._last_finite.get(key, {}).items():
            columns = markers.get(name)
            if columns is None:
                columns = markers[name] = marker_columns()
            columns["x"].append(float(point[0]))
            columns["y"].append(point[1])
            columns["color"].append(color)
            columns["optimizer"].append(run.optimizer)
            columns["seed"].append(run.seed)

    def _update_epoch_sources(self, touched):
        for optimizer, epochs in touched.items():
            source = self.epoch_sources.get(optimizer)
            if source is None:
                continue
            order = self._epoch_order.setdefault(optimizer, [])
            positions = {epoch: i for i, epoch in enumerate(order)}
            rows = {epoch: self._aggregator.summary_row(optimizer, epoch) for epoch in epochs}
            new = sorted(epoch for epoch in epochs if epoch not in positions)
            if new and order and new[0] < order[-1]:
                # An earlier epoch arrived after later ones (a resumed run):
                # rebuild the source in epoch order, once.
                order[:] = self._aggregator.epochs(optimizer)
                columns = epoch_columns()
                for epoch in order:
                    for name, value in self._aggregator.summary_row(optimizer, epoch).items():
                        columns[name].append(value)
                source.data = columns
            else:
                patches = {}
                for epoch in epochs:
                    if epoch in positions:
                        for name, value in rows[epoch].items():
                            patches.setdefault(name, []).append((positions[epoch], value))
                if patches:
                    source.patch(patches)
                if new:
                    source.stream({name: [rows[epoch][name] for epoch in new] for name in epoch_columns()})
                    order.extend(new)
            self._show_optional_curves(optimizer, rows.values())

    def _show_optional_curves(self, optimizer, rows):
        for (metric, name), (renderers, item) in self.figures.optional.items():
            if name != optimizer or item.visible:
                continue
            if any(not math.isnan(row[f"{metric}_mean"]) for row in rows):
                for renderer in renderers:
                    renderer.visible = True
                item.visible = True

    # Widgets.

    def _render_progress(self):
        if self._phase == "idle":
            return
        elapsed_s = time.monotonic() - self._started_at
        parts = []
        run, epoch, batch = self._current or (None, None, None)
        if run is not None:
            parts.append(
                f"Run {run.position + 1} of {run.total_runs}: {html.escape(run.optimizer)}, "
                f"seed {run.seed}"
            )
            status, _ = self._statuses.get((run.optimizer, run.seed), ("running", ""))
            parts.append(f"epoch {min(epoch, run.config.epochs)} of {run.config.epochs}")
            if status != "running":
                parts.append(status)
            elif batch is None:
                parts.append("starting")
            elif batch + 1 >= run.steps_per_epoch:
                parts.append("evaluating")
            else:
                parts.append(f"batch {batch + 1:,} of {run.steps_per_epoch:,}")
        parts.append(f"{format_duration(elapsed_s)} elapsed")
        fraction = min(self._steps_done / self._total_steps, 1.0) if self._total_steps else 0.0
        if self._phase == "ended":
            parts.append("comparison ended")
        elif self._epochs_done and self._steps_done:
            left_s = elapsed_s / self._steps_done * max(self._total_steps - self._steps_done, 0)
            parts.append(f"about {format_duration(left_s)} left (estimate)")
        else:
            parts.append("time left: estimated after the first epoch")
        self.progress.value = fraction
        self.progress_text.value = " · ".join(parts)

    def _render_runs(self):
        lines = []
        for (optimizer, seed), (status, message) in self._statuses.items():
            color, _ = self.styles.get(optimizer, ("#000000", None))
            status_color = STATUS_COLORS.get(status, "inherit")
            text = f'<span style="color:{status_color}">{status}</span>'
            if message:
                text += f": {html.escape(message)}"
            lines.append(
                f'<span style="color:{color}">&#9632;</span> '
                f"{html.escape(optimizer)}, seed {seed}: {text}"
            )
        self.run_table.value = "<br>".join(lines)

    def _render_summary(self):
        table = stats.study_table(stats.summarize(self.history()))
        heading = "Summary" if self._phase == "ended" else "Summary so far"
        self.summary.value = (
            f"<b>{heading}: min / mean / max over epochs</b>"
            + table.to_html(border=0, na_rep="-")
        )

    # Public helpers.

    def history(self):
        """Return the epoch rows received so far as a pandas DataFrame."""
        import pandas as pd

        return pd.DataFrame.from_records(self.history_rows)

    def flush(self):
        """Apply every queued event now, in the calling thread."""
        self.queue.flush()

    def reset(self):
        """Empty every plot, the progress and the tables for a new comparison."""
        for source in self.epoch_sources.values():
            source.data = epoch_columns()
        for source in self.batch_sources.values():
            source.data = batch_columns()
        for source in self.marker_sources.values():
            source.data = marker_columns()
        for renderers, item in self.figures.optional.values():
            for renderer in renderers:
                renderer.visible = False
            item.visible = False
        for item in self.figures.marker_items.values():
            item.visible = False
        self._reset_state()
        self.progress.value = 0.0
        self.progress_text.value = "Not started."
        self.summary.value = ""
        self._render_runs()

    def _reset_state(self):
        self.history_rows = []
        self._aggregator.clear()
        self._epoch_order = {}
        self._last_finite = {}
        self._unknown = set()
        self._comparison_id = None
        self._statuses = {key: ("pending", "") for key in self.runs}
        self._current = None
        self._total_steps = 0
        self._steps_done = 0
        self._epochs_done = 0
        self._started_at = time.monotonic()
        self._phase = "idle"

    def _ipython_display_(self):
        from IPython.display import display

        from labkit.live._frontend import load_bokehjs

        load_bokehjs()
        display(self.widget)
