"""Import the Keras backend without its native start-up messages.

TensorFlow 2.21 writes lines such as "Could not find cuda drivers" and
"All log messages before absl::InitializeLog()" from C++ straight to file
descriptor 2, before `TF_CPP_MIN_LOG_LEVEL` takes effect, and "failed call
to cuInit" when the first tensor is made. On a machine
without a GPU they are noise that reads like an error, so the command line
and the notebooks import Keras with descriptor 2 pointed at /dev/null.
Python exceptions are unaffected: they are raised after the descriptor is
restored.
"""

import contextlib
import os
import sys


@contextlib.contextmanager
def native_stderr_silenced():
    """Point file descriptor 2 at /dev/null for the duration of the block."""
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):  # no real descriptor, as under some runners
        yield
        return
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def import_keras_quietly():
    """Import Keras and start its backend once, hiding native start-up output.

    Making one small tensor inside the silenced block starts the backend's
    devices, which is when TensorFlow probes for CUDA.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" in sys.modules:
        return sys.modules["keras"]
    with native_stderr_silenced():
        import keras

        keras.ops.convert_to_tensor([0.0])
    return keras
