"""The Keras callback that watches one epoch of training.

It only collects numbers: the epoch's training time, Keras' epoch logs and,
per batch, the loss, which it checks for NaN or infinity. It never writes
anywhere itself; the runner reads it after each epoch and hands the numbers
to the store and the sinks.
"""

import math
import time

import keras


class EpochMonitor(keras.callbacks.Callback):
    """Time an epoch, stop on a non-finite loss or on request.

    Args:
        stop_event: A `threading.Event`; when set, training ends at the next
            batch end.
        on_batch: Optional function `(batch, logs)` called after each step
            with the logs as floats.
    """

    def __init__(self, stop_event, on_batch=None):
        super().__init__()
        self.stop_event = stop_event
        self.on_batch = on_batch
        self.reset()

    def reset(self):
        """Forget the previous epoch."""
        self.started_at = None
        self.time_s = None
        self.logs = {}
        self.batches = 0
        self.diverged_at = None
        self.stopped = False

    def on_epoch_begin(self, epoch, logs=None):
        self.started_at = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        self.batches = batch + 1
        loss = float(logs["loss"]) if logs and "loss" in logs else math.nan
        if not math.isfinite(loss) and logs and "loss" in logs:
            self.diverged_at = (batch, loss)
            self.model.stop_training = True
            return
        if self.on_batch is not None:
            self.on_batch(batch, {key: float(value) for key, value in logs.items()})
        if self.stop_event.is_set():
            self.stopped = True
            self.model.stop_training = True

    def on_epoch_end(self, epoch, logs=None):
        self.time_s = time.perf_counter() - self.started_at
        self.logs = {key: float(value) for key, value in (logs or {}).items()}

    def on_test_batch_end(self, batch, logs=None):
        # Passed to `evaluate` too, so that a stop request does not wait for
        # a whole validation pass (seconds to minutes on a CPU).
        if self.stop_event.is_set():
            self.stopped = True
            self.model.stop_evaluating = True
