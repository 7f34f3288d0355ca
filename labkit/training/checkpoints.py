"""Per-run checkpoints that let a stopped or killed run resume exactly.

A checkpoint is the whole training model saved by Keras (weights and
optimizer state) plus a JSON file with the finished epoch and the state of
every random seed generator in the model (dropout and augmentation draws).
Keras 3.15 does not restore seed generator states when it loads a model, so
labkit saves and restores them itself.
"""

import json
import logging
import os
import pathlib
import re

import keras
import numpy as np

logger = logging.getLogger(__name__)

_NAME = re.compile(r"^(?P<run>[0-9a-f]+)-epoch(?P<epoch>\d+)\.keras$")


def _seed_variables(model):
    return [v for v in model.variables if "seed_generator_state" in v.path]


def save(model, directory, run_id, epoch):
    """Write the checkpoint of `run_id` after `epoch`, then drop older ones.

    The files are written under temporary names and renamed, so a kill at
    any moment leaves the previous checkpoint intact.
    """
    directory = pathlib.Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stem = f"{run_id}-epoch{epoch:05d}"

    states = [np.asarray(keras.ops.convert_to_numpy(v)).tolist() for v in _seed_variables(model)]
    state_tmp = directory / f".{stem}.json.tmp"
    state_tmp.write_text(json.dumps({"epoch": epoch, "seed_states": states}))
    os.replace(state_tmp, directory / f"{stem}.json")

    model_tmp = directory / f".{stem}.tmp.keras"
    model.save(model_tmp)
    os.replace(model_tmp, directory / f"{stem}.keras")

    for path in directory.glob(f"{run_id}-epoch*"):
        match = _NAME.match(path.with_suffix(".keras").name)
        if match and int(match["epoch"]) < epoch:
            path.unlink(missing_ok=True)


def latest(directory, run_id):
    """Return `(epoch, model_path)` of a run's newest checkpoint, or None."""
    directory = pathlib.Path(directory)
    found = []
    for path in directory.glob(f"{run_id}-epoch*.keras"):
        match = _NAME.match(path.name)
        if match and path.with_suffix(".json").exists():
            found.append((int(match["epoch"]), path))
    return max(found) if found else None


def load(model_path):
    """Load a checkpointed training model with its seed generator states.

    Returns:
        `(model, epoch)`.
    """
    model_path = pathlib.Path(model_path)
    state = json.loads(model_path.with_suffix(".json").read_text())
    # Importing registers labkit's custom optimizer with Keras' loader.
    import labkit.optimizers  # noqa: F401

    model = keras.models.load_model(model_path)
    variables = _seed_variables(model)
    if len(variables) != len(state["seed_states"]):
        raise ValueError(
            f"Checkpoint {model_path} holds {len(state['seed_states'])} seed "
            f"states but its model has {len(variables)} seed generators."
        )
    for variable, values in zip(variables, state["seed_states"]):
        variable.assign(np.asarray(values, dtype=variable.dtype))
    return model, int(state["epoch"])
