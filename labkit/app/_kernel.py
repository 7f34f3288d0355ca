"""Prepare the kernel process before Keras loads. Heavy modules import it first.

Kernels of the app may share one GPU, so each takes memory as it needs
instead of all of it at start-up. The variables only take effect when set
before TensorFlow or JAX loads. Keras is then imported with TensorFlow's
native start-up lines hidden, because a page would show them as error
boxes.
"""

import os

from labkit._startup import import_keras_quietly

os.environ.setdefault("TF_FORCE_GPU_ALLOW_GROWTH", "true")
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
import_keras_quietly()
