"""A thread-safe queue of dashboard events, applied in throttled batches.

Training runs in a background thread, but a Bokeh document is not safe to
change from two threads, and every change that jupyter_bokeh 4.1 sees is
sent to the browser as its own comm message. So the training thread only
appends events to this queue, which costs a lock and a list append per
batch. The events are applied on the thread that owns the document, at most
once per `interval_s`, so many batches become one `stream` call:

- In a Jupyter kernel, on the kernel's Tornado IO loop (the main thread),
  scheduled with `IOLoop.add_callback`, which Tornado documents as safe to
  call from any thread.
- Elsewhere (scripts, tests), and when events come from the main thread
  itself, in the thread that puts the event, under a lock.
"""

import logging
import math
import threading
import time

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 0.1


class UpdateQueue:
    """Collect events from any thread and apply them in throttled batches.

    Args:
        apply: Function called with the list of pending events, oldest
            first, on the thread that owns the dashboard.
        interval_s: Minimum time between two calls of `apply`, in seconds,
            except for urgent events. Defaults to 0.1 (ten updates a second).
        io_loop: The Tornado IO loop to apply events on, such as a kernel's
            `io_loop`, or `None` to apply them in the thread that puts them.
        clock: Monotonic time function, in seconds.
    """

    def __init__(self, apply, *, interval_s=DEFAULT_INTERVAL_S, io_loop=None, clock=time.monotonic):
        if not (isinstance(interval_s, (int, float)) and math.isfinite(interval_s) and interval_s >= 0):
            raise ValueError(
                f"interval_s must be a finite number of seconds >= 0. Received: interval_s={interval_s!r}"
            )
        self.interval_s = float(interval_s)
        self.io_loop = io_loop
        self.flush_count = 0
        self._apply = apply
        self._clock = clock
        self._lock = threading.Lock()  # guards the attributes below
        self._pending = []
        self._scheduled = False
        self._last_flush = -math.inf
        self._flush_lock = threading.RLock()  # one flush at a time
        self._flushing = threading.local()
        self._broken = False

    def put(self, event, *, urgent=False):
        """Add an event; apply the pending ones now if it is time.

        Args:
            event: A tuple whose first item names the kind of event.
            urgent: Apply without waiting for the interval, for events that
                end something (a run, the comparison).
        """
        inline = self.io_loop is None or threading.current_thread() is threading.main_thread()
        with self._lock:
            if self._broken:
                return
            self._pending.append(event)
            if getattr(self._flushing, "active", False):
                return  # an event put while applying waits for the next flush
            wait_s = 0.0 if urgent else self._last_flush + self.interval_s - self._clock()
            if inline:
                if wait_s > 0:
                    return
            elif self._scheduled and not urgent:
                return
            else:
                self._scheduled = True
        if inline:
            self.flush()
        else:
            # IOLoop.call_later is not thread-safe, but add_callback is.
            self.io_loop.add_callback(self.io_loop.call_later, max(wait_s, 0.0), self.flush)

    def flush(self):
        """Apply every pending event now, in the calling thread."""
        with self._flush_lock:
            with self._lock:
                events, self._pending = self._pending, []
                self._scheduled = False
                if events:
                    # Only an update counts for the interval: an empty flush,
                    # such as one of `LiveComparison.wait`'s, delays nothing.
                    self._last_flush = self._clock()
            if not events or self._broken:
                return
            self._flushing.active = True
            try:
                self._apply(events)
                self.flush_count += 1
            except Exception:
                with self._lock:
                    self._broken = True
                    self._pending = []
                logger.exception(
                    "The live dashboard failed to apply %d events and stops updating; "
                    "training goes on and the results store keeps every epoch.",
                    len(events),
                )
            finally:
                self._flushing.active = False

    @property
    def broken(self):
        """Whether an update failed, so that later events are dropped."""
        return self._broken

    def clear(self):
        """Drop pending events and accept events again after a failure."""
        with self._lock:
            self._pending = []
            self._broken = False
