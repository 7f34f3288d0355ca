"""A first-come first-served queue of trainings, shared by every kernel.

Voila runs each page in its own kernel process, so the queue lives in a
folder and uses `fcntl.flock` locks, which the operating system releases
when the process that holds them exits, however it exits:

- `slots/slot-<i>.lock`, one file per training allowed at once. A running
  training holds an exclusive lock on one of them.
- `tickets/<time_ns>-<pid>-<random>.ticket`, one file per waiting request,
  exclusively locked by its owner. Names sort by arrival time. A ticket that
  another process can lock belongs to a dead process and is deleted.

Only the request at the head of the queue tries to take a slot, so requests
start in arrival order. The folder must be on a local file system: `flock`
on NFS is not reliable.
"""

import fcntl
import logging
import os
import pathlib
import secrets
import threading
import time

logger = logging.getLogger(__name__)

DEFAULT_POLL_S = 0.25


def _try_lock(handle, mode=fcntl.LOCK_EX):
    try:
        fcntl.flock(handle, mode | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    return True


class TrainingSlots:
    """At most `capacity` trainings at once across processes; the rest queue.

    Args:
        folder: Folder shared by every kernel of the server; created if
            missing.
        capacity: Trainings allowed to run at once, an integer >= 1.
        poll_s: Seconds between two checks of a waiting request. Defaults
            to 0.25.
    """

    def __init__(self, folder, capacity, *, poll_s=DEFAULT_POLL_S):
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f"capacity must be an integer >= 1. Received: capacity={capacity!r}")
        self.folder = pathlib.Path(folder)
        self.capacity = capacity
        self.poll_s = poll_s
        self._slots_dir = self.folder / "slots"
        self._tickets_dir = self.folder / "tickets"
        self._slots_dir.mkdir(parents=True, exist_ok=True)
        self._tickets_dir.mkdir(parents=True, exist_ok=True)

    def _slot_path(self, index):
        return self._slots_dir / f"slot-{index}.lock"

    def live_tickets(self):
        """Return the names of the waiting requests, oldest first.

        Tickets of dead processes are deleted on the way.
        """
        names = sorted(p.name for p in self._tickets_dir.glob("*.ticket"))
        return [name for name in names if not self._remove_if_dead(self._tickets_dir / name)]

    def _remove_if_dead(self, path):
        try:
            handle = open(path, "rb")
        except FileNotFoundError:
            return True
        with handle:
            if not _try_lock(handle):
                return False
            # The lock is free, so the ticket's owner has exited.
            path.unlink(missing_ok=True)
            logger.info("Removed the queue ticket %s of a process that exited.", path.name)
            return True

    def running_count(self):
        """Return how many slots are held by a running training now."""
        busy = 0
        for index in range(self.capacity):
            with open(self._slot_path(index), "a+b") as handle:
                if _try_lock(handle, fcntl.LOCK_SH):
                    fcntl.flock(handle, fcntl.LOCK_UN)
                else:
                    busy += 1
        return busy

    def waiting_count(self):
        """Return how many requests wait for a slot now."""
        return len(self.live_tickets())

    def request(self):
        """Join the queue and return the new `Ticket`."""
        return Ticket(self)


class Ticket:
    """One training request: it waits in the queue, then takes a slot.

    Release the ticket when training ends; a kernel that dies releases it
    with its process.
    """

    def __init__(self, slots):
        self.slots = slots
        self.slot = None
        self._slot_handle = None
        name = f"{time.time_ns():020d}-{os.getpid()}-{secrets.token_hex(4)}.ticket"
        self.name = name
        self.path = slots._tickets_dir / name
        # Lock under a hidden name, then rename, so that no other process can
        # find the ticket unlocked and delete it as a dead one.
        hidden = slots._tickets_dir / f".{name}.new"
        self._ticket_handle = open(hidden, "wb")
        fcntl.flock(self._ticket_handle, fcntl.LOCK_EX)
        os.rename(hidden, self.path)
        logger.info("Queue ticket %s created.", name)

    @property
    def waiting(self):
        """Whether the request is still in the queue."""
        return self._ticket_handle is not None

    def position(self):
        """Return the number of requests ahead of this one; 0 at the head."""
        if not self.waiting:
            return 0
        return sum(1 for name in self.slots.live_tickets() if name < self.name)

    def try_acquire(self):
        """Take a free slot if this request is at the head of the queue.

        Returns:
            True once the request has a slot.
        """
        if self.slot is not None:
            return True
        if not self.waiting or self.position() > 0:
            return False
        for index in range(self.slots.capacity):
            handle = open(self.slots._slot_path(index), "a+b")
            if _try_lock(handle):
                self.slot, self._slot_handle = index, handle
                self._leave_queue()
                logger.info("Queue ticket %s took training slot %d.", self.name, index)
                return True
            handle.close()
        return False

    def wait(self, *, on_position=None, cancel=None, timeout_s=None):
        """Block until this request holds a slot.

        Args:
            on_position: Called with the number of requests ahead whenever
                it changes, starting with the first check.
            cancel: A `threading.Event`; when set, the request leaves the
                queue and `wait` returns False.
            timeout_s: Seconds to wait at most; `None` waits without limit.

        Returns:
            True if a slot was taken, False if cancelled or timed out.
        """
        cancel = cancel or threading.Event()
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        last = None
        while not cancel.is_set():
            if self.try_acquire():
                return True
            ahead = self.position()
            if on_position is not None and ahead != last:
                on_position(ahead)
            last = ahead
            if deadline is not None and time.monotonic() >= deadline:
                break
            cancel.wait(self.slots.poll_s)
        self.release()
        return False

    def _leave_queue(self):
        if self._ticket_handle is None:
            return
        self.path.unlink(missing_ok=True)
        self._ticket_handle.close()
        self._ticket_handle = None

    def release(self):
        """Leave the queue, or free the slot; safe to call more than once."""
        self._leave_queue()
        if self._slot_handle is not None:
            self._slot_handle.close()
            logger.info("Queue ticket %s freed training slot %d.", self.name, self.slot)
            self._slot_handle = None
            self.slot = None

    def __enter__(self):
        return self

    def __exit__(self, *_exc):
        self.release()


__all__ = ["TrainingSlots", "Ticket"]
