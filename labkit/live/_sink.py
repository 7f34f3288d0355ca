"""The sink that hands a comparison's events to a live dashboard.

It runs in the training thread and only queues events: the dashboard turns
them into Bokeh and widget updates later, on its own thread and in batches.
"""

from labkit.training.sinks import Sink


class LiveSink(Sink):
    """Queue every event of a comparison for a `Dashboard`.

    Args:
        queue: The dashboard's `UpdateQueue`.
    """

    wants_batches = True

    def __init__(self, queue):
        self.queue = queue

    def on_comparison_begin(self, comparison_id, runs):
        self.queue.put(("comparison_begin", comparison_id, list(runs)), urgent=True)

    def on_run_begin(self, run):
        self.queue.put(("run_begin", run))

    def on_batch_end(self, run, epoch, batch, logs):
        self.queue.put(("batch", run, epoch, batch, logs))

    def on_epoch_end(self, run, row):
        self.queue.put(("epoch", run, dict(row)))

    def on_run_end(self, run, status, message):
        self.queue.put(("run_end", run, status, message), urgent=True)

    def on_comparison_end(self, comparison_id):
        self.queue.put(("comparison_end", comparison_id), urgent=True)
