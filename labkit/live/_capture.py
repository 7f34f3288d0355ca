"""Route a background thread's printed output and log records into the page.

In a Jupyter kernel, text that a background thread prints is sent with the
parent message of whichever cell ran last, and a traceback that it logs goes
to the kernel's log, so neither reliably reaches the dashboard. While
`captured_output` is active, `sys.stdout` and `sys.stderr` are wrappers that
pass the writes of registered threads to a callback and every other write
through unchanged, and a logging handler on the root logger does the same
for log records. `warnings.showwarning` is wrapped too, because a warning
may be recorded or redirected (as pytest does) instead of written to
`sys.stderr`.
"""

import contextlib
import logging
import sys
import threading
import warnings

_lock = threading.Lock()
_routes = {}  # thread ident -> callback(stream_name, text)


class _RoutedStream:
    """A text stream that sends registered threads' writes to their callback."""

    def __init__(self, name, original):
        self._name = name
        self._original = original

    def write(self, text):
        route = _routes.get(threading.get_ident())
        if route is None:
            return self._original.write(text)
        if text:
            route(self._name, text)
        return len(text)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if threading.get_ident() not in _routes:
            self._original.flush()

    def __getattr__(self, name):
        return getattr(self._original, name)


class _RoutingLogHandler(logging.Handler):
    """Send the log records of registered threads to their callback.

    Records of other threads go to `logging.lastResort` when no other
    handler would see them, as they would without this handler; otherwise
    adding a handler to the root logger would silence them.
    """

    def __init__(self):
        super().__init__(level=logging.NOTSET)
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record):
        route = _routes.get(record.thread)
        if route is None:
            if _only_handler(record) and logging.lastResort is not None:
                if record.levelno >= logging.lastResort.level:
                    logging.lastResort.handle(record)
            return
        try:
            route("log", self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def _only_handler(record):
    logger = logging.getLogger(record.name)
    while logger is not None:
        if any(not isinstance(handler, _RoutingLogHandler) for handler in logger.handlers):
            return False
        if not logger.propagate:
            break
        logger = logger.parent
    return True


_handler = _RoutingLogHandler()
_previous_showwarning = None


def _show_warning(message, category, filename, lineno, file=None, line=None):
    route = _routes.get(threading.get_ident())
    if route is None or file is not None:
        return _previous_showwarning(message, category, filename, lineno, file, line)
    route("stderr", warnings.formatwarning(message, category, filename, lineno, line))


def _install():
    global _previous_showwarning
    if warnings.showwarning is not _show_warning:
        _previous_showwarning = warnings.showwarning
        warnings.showwarning = _show_warning
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        if not isinstance(stream, _RoutedStream):
            setattr(sys, name, _RoutedStream(name, stream))
    logging.getLogger().addHandler(_handler)


def _uninstall():
    if warnings.showwarning is _show_warning:
        warnings.showwarning = _previous_showwarning
    logging.getLogger().removeHandler(_handler)
    for name in ("stdout", "stderr"):
        stream = getattr(sys, name)
        # Someone may have replaced the stream since; leave theirs alone.
        if isinstance(stream, _RoutedStream):
            setattr(sys, name, stream._original)


@contextlib.contextmanager
def captured_output(callback):
    """Send this thread's printed text, warnings and log records to `callback`.

    Args:
        callback: Function `(kind, text)`, where kind is `"stdout"`,
            `"stderr"` (also for warnings) or `"log"`. It runs in the
            writing thread.

    Text written by other threads, and by native code straight to file
    descriptors 1 and 2 (such as TensorFlow's C++ logs), is not captured.
    """
    ident = threading.get_ident()
    with _lock:
        if not _routes:
            _install()
        _routes[ident] = callback
    try:
        yield
    finally:
        with _lock:
            _routes.pop(ident, None)
            if not _routes:
                _uninstall()
