"""Sinks: consumers of the numbers a comparison produces.

The runner hands every event to its sinks and knows nothing of what they do
with it: print a progress bar, stream into a live plot, write a file. A sink
never changes the run. A sink that raises is logged and switched off, so a
broken display cannot lose training already done; the results store is
written by the runner itself, before any sink sees an epoch.
"""

import dataclasses
import logging

logger = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class RunInfo:
    """What a sink knows of a run.

    Attributes:
        run_id: The run's id in the results store.
        comparison_id: The id of the comparison the run belongs to.
        position: Index of the run in the comparison's training order.
        total_runs: Number of runs in the comparison.
        config: The run's `RunConfig`.
        hyperparameters: The optimizer's effective hyper-parameters.
        steps_per_epoch: Training steps (batches) in one epoch.
        start_epoch: Last epoch finished before this session of the run;
            non-zero when a run is resumed.
    """

    run_id: str
    comparison_id: str
    position: int
    total_runs: int
    config: object
    hyperparameters: dict
    steps_per_epoch: int
    start_epoch: int = 0

    @property
    def optimizer(self):
        return self.config.optimizer

    @property
    def seed(self):
        return self.config.seed


class Sink:
    """Base class of sinks; every method does nothing by default.

    Set `wants_batches = True` on a subclass to receive `on_batch_end`. Batch
    events cost a little time on every step, so the runner only produces them
    when some sink asks.
    """

    wants_batches = False

    def on_comparison_begin(self, comparison_id, runs):
        """Called once before training, with the `RunInfo` of every run."""

    def on_run_begin(self, run):
        """Called when a run starts or resumes."""

    def on_batch_end(self, run, epoch, batch, logs):
        """Called after each training step.

        Args:
            run: The `RunInfo`.
            epoch: The 1-based epoch in progress.
            batch: The 0-based step within the epoch.
            logs: Floats from Keras; `loss` and `accuracy` are running means
                over the epoch so far, as Keras 3 reports them.
        """

    def on_epoch_end(self, run, row):
        """Called after an epoch is stored, with the stored row."""

    def on_run_end(self, run, status, message):
        """Called when a run ends: finished, stopped, diverged or failed."""

    def on_comparison_end(self, comparison_id):
        """Called once when the comparison ends, also after a stop."""


class SinkList:
    """Dispatches events to sinks and switches off any sink that raises."""

    def __init__(self, sinks):
        self._sinks = list(sinks)

    @property
    def wants_batches(self):
        return any(sink.wants_batches for sink in self._sinks)

    def dispatch(self, method, *args):
        for sink in list(self._sinks):
            if method == "on_batch_end" and not sink.wants_batches:
                continue
            try:
                getattr(sink, method)(*args)
            except Exception:
                logger.exception(
                    "Sink %s raised in %s and is switched off; training goes on "
                    "and the results store keeps every epoch.",
                    type(sink).__name__,
                    method,
                )
                self._sinks.remove(sink)
