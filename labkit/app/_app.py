"""The optimizer app: form, live plots, summary and stored runs in one layout.

`OptimizerApp` lays out, with ipywidgets' `AppLayout`, the training form on
the left, the live plots in the centre and the summary table, the stored
comparisons and a slot for an export panel below. Train checks the form,
queues the request in the server-wide `TrainingSlots` and, once a slot is
free, trains with `labkit.live.LiveComparison` into the shared results
store. Nothing is loaded when the page opens: data and models load on
Train.
"""

import html
import logging
import secrets
import threading
import time

import ipywidgets

from labkit.app import _kernel  # noqa: F401, I001 (sets the environment before Keras loads)
from labkit import stats
from labkit.app._form import TrainingForm, error_html
from labkit.app._queue import TrainingSlots
from labkit.app._settings import AppSettings
from labkit.app._stored import (
    comparison_name,
    describe_comparison,
    list_comparisons,
    overlay_history,
    overlay_study,
)
from labkit.errors import LabkitError
from labkit.live import Dashboard, LiveComparison, history_figures, load_bokehjs
from labkit.live._frontend import kernel_io_loop
from labkit.reference import study_summary
from labkit.training import ComparisonResult, ResultsStore

logger = logging.getLogger(__name__)

POLL_S = 0.2


class OptimizerApp:
    """The class app: choose optimizers, train them live, compare with others.

    Args:
        settings: The server's `AppSettings`. Defaults to the settings that
            `labkit app` passes in `LABKIT_APP_SETTINGS`, or the defaults.

    Attributes:
        layout: The `ipywidgets.AppLayout` to display.
        form: The `TrainingForm`.
        live: The `LiveComparison` of the latest Train, or `None`.
        export_slot: An empty box below the summary for an export panel.
    """

    def __init__(self, settings=None):
        self.settings = settings or AppSettings.from_environment()
        self.slots = TrainingSlots(self.settings.queue_dir, self.settings.max_concurrent_trainings)
        self.form = TrainingForm(self.settings)
        self.live = None
        self.overlays = []
        self._store = None
        self._cancel = None
        self._io_loop = kernel_io_loop()

        self.owner = ipywidgets.Text(
            description="Your name", placeholder="to find your runs again",
            continuous_update=False, style={"description_width": "110px"},
        )
        self.owner.add_class("labkit-owner")
        self.train_button = ipywidgets.Button(description="Train", button_style="success")
        self.train_button.add_class("labkit-app-train")
        self.stop_button = ipywidgets.Button(description="Stop", disabled=True)
        self.stop_button.add_class("labkit-app-stop")
        self.status = ipywidgets.HTML("Choose optimizers and settings, then press Train.")
        self.status.add_class("labkit-status")
        self.train_button.on_click(self._on_train)
        self.stop_button.on_click(self._on_stop)
        # `display: block`, because a flex column would shrink the optimizer
        # panels to their titles inside the fixed-height sidebar.
        controls = ipywidgets.VBox([
            ipywidgets.HBox([self.train_button, self.stop_button]), self.status,
            ipywidgets.HTML("<h3>Optimizers and settings</h3>"), self.owner, self.form.widget,
        ], layout=ipywidgets.Layout(display="block", overflow="auto", padding="0 8px 0 0"))

        self.plots = ipywidgets.VBox()
        self.plots.add_class("labkit-plots")
        self.summary = ipywidgets.VBox()
        self.summary.add_class("labkit-app-summary")
        self.study_table = ipywidgets.HTML()
        self.study_table.add_class("labkit-study-table")
        self.export_slot = ipywidgets.VBox()
        self.export_slot.add_class("labkit-export-slot")
        self.stored = self._stored_panel()
        footer = ipywidgets.VBox([self.summary, self.study_table, self.stored, self.export_slot])
        self._show_dashboard(Dashboard([(name, 0) for name in self.form.optimizers.value]))

        self.layout = ipywidgets.AppLayout(
            header=None,
            left_sidebar=controls,
            center=self.plots,
            footer=footer,
            right_sidebar=None,
            pane_widths=["380px", 1, 0],
            pane_heights=[0, "780px", 1],
            grid_gap="8px",
        )

    # Layout.

    def _stored_panel(self):
        self.stored_list = ipywidgets.Select(options=[], rows=6, layout=ipywidgets.Layout(width="90%"))
        self.stored_list.add_class("labkit-stored-list")
        self.mine_only = ipywidgets.Checkbox(value=True, description="only mine", indent=False)
        refresh = ipywidgets.Button(description="Refresh list")
        refresh.add_class("labkit-refresh")
        open_button = ipywidgets.Button(description="Open", tooltip="Show its plots and summary")
        open_button.add_class("labkit-open")
        overlay = ipywidgets.Button(description="Overlay on plots", tooltip="Draw its mean curves")
        overlay.add_class("labkit-overlay")
        self.study_overlay = ipywidgets.Checkbox(
            value=False, description="2017 study's published means", indent=False
        )
        self.study_overlay.add_class("labkit-study")
        self.stored_message = ipywidgets.HTML()
        refresh.on_click(lambda _button: self.refresh_stored())
        open_button.on_click(lambda _button: self.open_stored())
        overlay.on_click(lambda _button: self.overlay_stored())
        self.study_overlay.observe(self._on_study, names="value")
        self.owner.observe(lambda _change: self.refresh_stored(), names="value")
        return ipywidgets.VBox([
            ipywidgets.HTML("<b>Stored comparisons</b> (finished or partial)"),
            ipywidgets.HBox([refresh, self.mine_only, open_button, overlay, self.study_overlay]),
            self.stored_list, self.stored_message,
        ])

    def _show_dashboard(self, dashboard, extra=()):
        self.dashboard = dashboard
        self.plots.children = [
            ipywidgets.HBox([dashboard.progress, dashboard.progress_text]),
            dashboard.run_table, *extra, dashboard.plots,
        ]
        self.summary.children = [dashboard.summary]
        for draw in self.overlays:
            draw(dashboard)

    # Training.

    def _call(self, function, *args):
        """Run `function` on the kernel's IO loop, or here outside a kernel."""
        if self._io_loop is None:
            function(*args)
        else:
            self._io_loop.add_callback(function, *args)

    @property
    def busy(self):
        """Whether a request waits in the queue or trains."""
        return self._cancel is not None

    def _on_train(self, _button):
        self.train_button.disabled = True
        started = False
        try:
            started = self.train()
        except Exception as error:
            logger.exception("Training did not start.")
            self.status.value = error_html(f"Training did not start: {type(error).__name__}: {error}")
        finally:
            if not started:
                self.train_button.disabled = self.busy

    def train(self):
        """Check the form, queue the request and train once a slot is free.

        Returns:
            True if the request was queued; False if the form is invalid or
            a request of this page is still queued or training, with the
            reason shown in the page.
        """
        if self.busy:
            self.status.value = error_html("A training of this page is still queued or running; press Stop first.")
            return False
        try:
            request = self.form.request()
        except LabkitError as error:
            self.status.value = error_html(str(error))
            return False
        run_dir = self.settings.runs_dir / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
        live = LiveComparison(
            request.optimizers, seeds=request.seeds, hyperparameters=request.hyperparameters,
            store=self.settings.store_url, output_dir=str(run_dir),
            name=comparison_name(self.owner.value, request.optimizers),
            data_dir=self.settings.data_dir, download=self.settings.download, **request.options,
        )
        live.dashboard.listeners.append(self._on_events)
        self.live = live
        self._show_dashboard(live.dashboard, extra=[live.message, live.log])
        self._cancel = threading.Event()
        self.stop_button.disabled = False
        notes = "".join(f"<br><small>{html.escape(note)}</small>" for note in request.notes)
        self.status.value = "Joining the training queue..." + notes
        threading.Thread(
            target=self._coordinate, args=(live, self._cancel), name="labkit-app-queue", daemon=True
        ).start()
        return True

    def _coordinate(self, live, cancel):
        """Wait for a slot, train, free the slot; in a background thread."""
        ticket = self.slots.request()
        try:
            if not ticket.wait(on_position=lambda ahead: self._call(self._show_position, ahead), cancel=cancel):
                self._call(self._finished, "Left the queue; nothing was trained.")
                return
            started = threading.Event()
            self._call(self._start_live, live, cancel, started)
            started.wait()
            while live.running:
                time.sleep(POLL_S)
        except Exception as error:
            logger.exception("The training queue failed.")
            self._call(self._finished, error_html(f"The training queue failed: {error}"))
            return
        finally:
            ticket.release()
        self._call(self._finished, None)

    def _show_position(self, ahead):
        capacity = self.slots.capacity
        if ahead == 0:
            text = "You are next: waiting for a running training to finish"
        else:
            text = f"Waiting in the queue: {ahead} request{'s' if ahead > 1 else ''} ahead of you"
        self.status.value = f"{text} ({capacity} training{'s' if capacity > 1 else ''} run at once on this server)."
        self.status.add_class("labkit-queued")

    def _start_live(self, live, cancel, started):
        try:
            self.status.remove_class("labkit-queued")
            if not cancel.is_set():
                dataset = self.form.dataset.value
                self.status.value = f"Loading {html.escape(dataset)} and building the models..."
                live.start()
        finally:
            started.set()

    def _on_events(self, events):
        if any(event[0] == "comparison_begin" for event in events):
            self.status.value = "Training."

    def _finished(self, text):
        # The page is updated first and the request marked done last, so
        # that code polling `busy` finds the export panel and the refreshed
        # list in place once it turns False.
        try:
            if text is None and self.live is not None and self.live.result is not None:
                self.show_export(self.live.result)
            self.status.remove_class("labkit-queued")
            if text is not None:
                self.status.value = text
            elif self.live is not None and self.live.error is not None:
                self.status.value = error_html("Training failed; see the message above the plots.")
            else:
                self.status.value = "Training ended; the comparison is in the stored list."
            self.refresh_stored()
        finally:
            self._cancel = None
            self.train_button.disabled = False
            self.stop_button.disabled = True

    def show_export(self, source):
        """Show the export panel of a comparison below the summary.

        Args:
            source: A `ComparisonResult` or a comparison's output folder.
        """
        from labkit.export import ExportPanel

        try:
            # Students type into this page, so they do not choose server folders.
            panel = ExportPanel(source, allow_folder=False)
        except LabkitError as error:
            self.export_slot.children = [ipywidgets.HTML(error_html(f"Export is not available: {error}"))]
            return
        heading = ipywidgets.HTML(
            "<b>Export</b> the figures, the summary and every epoch; the link after an "
            "export downloads them as one zip."
        )
        self.export_slot.children = [heading, panel]

    def _on_stop(self, _button):
        self.stop()

    def stop(self):
        """Leave the queue, or stop training at the next batch end."""
        if self._cancel is not None:
            self._cancel.set()
        if self.live is not None and self.live.running:
            self.live.stop()
        self.stop_button.disabled = True

    # Stored comparisons.

    @property
    def store(self):
        """The shared `ResultsStore`, opened on first use."""
        if self._store is None:
            self.settings.state_path.mkdir(parents=True, exist_ok=True)
            self._store = ResultsStore(self.settings.store_url)
        return self._store

    def refresh_stored(self):
        """List the stored comparisons, the user's own first if a name is set."""
        owner = self.owner.value.strip() if self.mine_only.value else None
        try:
            items = list_comparisons(self.store, owner=owner)
        except LabkitError as error:
            self.stored_message.value = error_html(str(error))
            return
        self.stored_list.options = [(describe_comparison(item), item["id"]) for item in items]
        owner_text = f" of {html.escape(owner)}" if owner else ""
        self.stored_message.value = f"<small>{len(items)} stored comparison(s){owner_text}.</small>"

    def _selected_history(self):
        comparison_id = self.stored_list.value
        if comparison_id is None:
            self.stored_message.value = error_html("Select a comparison in the list first.")
            return None, None
        return comparison_id, self.store.history(comparison_id)

    def open_stored(self):
        """Show the selected stored comparison's plots and summary."""
        from jupyter_bokeh import BokehModel

        comparison_id, history = self._selected_history()
        if history is None:
            return
        if history.empty:
            self.stored_message.value = error_html(f"Comparison {comparison_id} has no finished epoch yet.")
            return
        name = self.store.comparison(comparison_id)["name"]
        self.plots.children = [
            ipywidgets.HTML(f"<b>Stored comparison {html.escape(name)}</b> ({comparison_id})"),
            BokehModel(history_figures(history)),
        ]
        table = stats.study_table(stats.summarize(history))
        self.summary.children = [ipywidgets.HTML(
            "<b>Summary: min / mean / max over epochs</b>" + table.to_html(border=0, na_rep="-")
        )]
        # Exports of a stored comparison go under the app's state folder,
        # since its own output folder may belong to another session.
        exports_dir = self.settings.state_path / "exports" / comparison_id
        self.show_export(ComparisonResult.from_store(self.store, comparison_id, exports_dir))

    def overlay_stored(self):
        """Draw the selected comparison's mean curves on the live plots."""
        comparison_id, history = self._selected_history()
        if history is None:
            return
        label = comparison_id

        def draw(dashboard):
            return overlay_history(dashboard.figures, history, label)

        self.overlays.append(draw)
        drawn = draw(self.dashboard)
        self.stored_message.value = f"<small>Drew {drawn} curves of {comparison_id}.</small>"

    def _on_study(self, change):
        if change["new"]:
            def draw(dashboard):
                return overlay_study(dashboard.figures, dashboard.styles)

            self._study_draw = draw
            self.overlays.append(draw)
            draw(self.dashboard)
            table = study_summary().pivot(index="metric", columns="optimizer", values="mean")
            table = table.rename(index=stats.METRIC_LABELS)
            self.study_table.value = (
                "<b>2017 study, published means over 200 epochs (CIFAR-10 CNN)</b>"
                + table.to_html(border=0, float_format=lambda value: f"{value:.4g}")
            )
        else:
            # NOTE: lines already drawn stay until the next Train builds new plots.
            self.overlays = [draw for draw in self.overlays if draw is not getattr(self, "_study_draw", None)]
            self.study_table.value = ""

    def _ipython_display_(self):
        from IPython.display import display

        load_bokehjs()
        display(self.layout)


def build_app(settings=None):
    """Build the optimizer app; display the returned object to show it.

    Args:
        settings: An `AppSettings`; defaults to those of `labkit app`.
    """
    return OptimizerApp(settings)


__all__ = ["OptimizerApp", "build_app"]
