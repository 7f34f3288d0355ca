"""A comparison's output folder and its `config.json`.

`config.json` names the comparison, its results store, every run's settings,
the data folder and the dataset files with their SHA-256, so that `resume`
and `labkit summary` find everything again from the folder alone.
"""

import json
import logging
import os
import pathlib
import time
import uuid

import sqlalchemy as sa

from labkit.errors import ConfigError
from labkit.training.config import RunConfig

logger = logging.getLogger(__name__)

CONFIG_FILE = "config.json"
DEFAULT_ROOT = "labkit-runs"

# Keys of config.json that labkit reads back, with their JSON types.
REQUIRED_KEYS = {"comparison_id": str, "runs": list, "store": str, "data": dict}
OPTIONAL_KEYS = {"store_has_password": bool, "data_dir": (str, type(None)), "name": str}

# The `RunConfig` fields that every run of a comparison shares.
SHARED_FIELDS = (
    "dataset", "model", "model_options", "preset", "epochs", "batch_size",
    "augmentation", "validation", "train_size", "evaluate_test", "eval_batch_size",
)


def default_output_dir(comparison_id):
    """Return `labkit-runs/<date>-<time>-<comparison_id>`, a relative path.

    The id makes the name unique even for comparisons started in the same
    second.
    """
    stamp = time.strftime("%Y%m%d-%H%M%S")
    return pathlib.Path(DEFAULT_ROOT) / f"{stamp}-{comparison_id}"


def check_no_comparison(output_dir):
    """Raise `ConfigError` if `output_dir` already contains a comparison.

    A new comparison there would replace the old one's `config.json`,
    `history.csv` and `summary.csv`, so the old one could not be resumed.
    """
    output_dir = pathlib.Path(output_dir)
    path = output_dir / CONFIG_FILE
    if not path.exists():
        return
    raise ConfigError(
        f"The output folder {output_dir} already contains a comparison ({path}). "
        f"To continue it, run `labkit compare --resume {output_dir}` "
        f"(Python: labkit.training.resume({str(output_dir)!r})). To start a new "
        "comparison, choose another output folder with --out (Python: output_dir=...)."
    )


def prepare_output_dir(output_dir):
    """Create the output folder and check that files can be written in it.

    Raises:
        ConfigError: if the folder cannot be created or written to.
    """
    output_dir = pathlib.Path(output_dir)
    fix = "Choose a writable folder with --out (Python: output_dir=...), or fix its permissions."
    try:
        output_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ConfigError(f"Cannot create the output folder {output_dir}: {error}. {fix}") from error
    probe = output_dir / f".labkit-write-test-{uuid.uuid4().hex[:8]}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise ConfigError(f"Cannot write to the output folder {output_dir}: {error}. {fix}") from error


def data_dir_used(data_dir):
    """Return the data folder that a load searches first, as an absolute path.

    That is `data_dir`, else `LABKIT_DATA_DIR`, else None.
    """
    folder = data_dir if data_dir is not None else os.environ.get("LABKIT_DATA_DIR") or None
    if folder is None:
        return None
    return os.path.abspath(os.path.expanduser(os.fspath(folder)))


def write_config(output_dir, store, comparison_id, name, configs, dataset, environment, data_dir):
    """Write `config.json` atomically; see the module docstring for its keys."""
    url = sa.engine.make_url(store.url)
    content = {
        "comparison_id": comparison_id,
        "name": name,
        "store": store.safe_url,
        "store_has_password": url.password is not None,
        "runs": [config.to_dict() for config in configs],
        "data": dataset.metadata,
        "data_dir": data_dir,
        "environment": environment,
    }
    path = pathlib.Path(output_dir) / CONFIG_FILE
    temporary = path.with_name(f".{CONFIG_FILE}.tmp")
    temporary.write_text(json.dumps(content, indent=2, sort_keys=True, default=str) + "\n")
    os.replace(temporary, path)


def read_config(output_dir, require_store=True):
    """Read and check a comparison's `config.json`.

    Args:
        output_dir: The comparison's output folder.
        require_store: Whether the file must name the results store. Pass
            `False` when the caller has the store URL from elsewhere.
            Defaults to `True`.

    Returns:
        The decoded file, as a dict.

    Raises:
        ConfigError: if the file is missing, is not JSON, or a key that
            labkit reads back is missing or of the wrong type.
    """
    path = pathlib.Path(output_dir) / CONFIG_FILE
    fix = (
        f"Restore {path} from a backup, or start a new comparison with "
        "`labkit compare --out` another folder."
    )
    try:
        saved = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"{path} does not exist, so {output_dir} contains no labkit comparison. "
            "Give the --out folder of an earlier `labkit compare`."
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"Cannot read {path}: {error}. {fix}") from error
    except ValueError as error:
        raise ConfigError(f"{path} is not valid JSON: {error}. {fix}") from error
    if not isinstance(saved, dict):
        raise ConfigError(
            f"{path} is not a labkit comparison file: it contains a JSON "
            f"{type(saved).__name__}, not an object. {fix}"
        )

    required = dict(REQUIRED_KEYS)
    if not require_store:
        del required["store"]
    for key, kind in required.items():
        if key not in saved:
            hint = " Or name the store with --store URL." if key == "store" else ""
            raise ConfigError(f"{path} lacks the key {key!r}. {fix}{hint}")
    for key, kind in {**required, **OPTIONAL_KEYS}.items():
        if key in saved and not isinstance(saved[key], kind):
            raise ConfigError(
                f"The key {key!r} of {path} has an invalid value: {saved[key]!r}. {fix}"
            )
    if not saved["runs"]:
        raise ConfigError(f"The key 'runs' of {path} lists no run. {fix}")
    for position, values in enumerate(saved["runs"]):
        try:
            if not isinstance(values, dict):
                raise ConfigError(f"expected an object, got {values!r}")
            RunConfig.from_dict(values)
        except (ConfigError, LookupError, TypeError) as error:
            # UnknownNameError is a KeyError, and a missing field a TypeError.
            raise ConfigError(f"Run {position} of {path} is invalid: {error} {fix}") from error
    return saved


def stored_settings(saved):
    """Return the settings a comparison was started with, as `compare` takes them.

    `resume` always trains with these, whatever other options it receives.
    `differing_settings` compares them with the options requested along with
    a resume, so that a caller can report which ones were ignored.

    Args:
        saved: The output of `read_config`.

    Returns:
        A dict with `optimizers`, `seeds`, `hyperparameters` (overrides of
        each optimizer that has some), `name` and the shared `RunConfig`
        fields of `SHARED_FIELDS`.
    """
    runs = saved["runs"]
    first = runs[0]
    settings = {
        "optimizers": list(dict.fromkeys(run["optimizer"] for run in runs)),
        "seeds": list(dict.fromkeys(run.get("seed", 0) for run in runs)),
        "hyperparameters": {
            run["optimizer"]: run["hyperparameters"]
            for run in runs
            if run.get("hyperparameters")
        },
        "name": saved.get("name"),
    }
    defaults = RunConfig(optimizer=first["optimizer"]).to_dict()
    for field in SHARED_FIELDS:
        settings[field] = first.get(field, defaults[field])
    return settings


def differing_settings(stored, requested):
    """Return the requested settings that differ from the stored ones.

    Args:
        stored: The output of `stored_settings`.
        requested: Settings requested along with a resume, under the same
            keys. Keys that `stored` lacks (such as `store` or `data_dir`,
            which a resume does use) are skipped.

    Returns:
        A dict from key to `(requested_value, stored_value)`, in the order
        of `requested`.
    """
    differing = {}
    for key, value in requested.items():
        if key not in stored:
            continue
        if _plain(value) != _plain(stored[key]):
            differing[key] = (value, stored[key])
    return differing


def _plain(value):
    # Tuples and lists, or 1 and 1.0, compare equal once through JSON.
    return json.loads(json.dumps(value, sort_keys=True, default=str))


def check_data_files(expected, found, comparison_id):
    """Raise `ConfigError` if the dataset files differ from the recorded ones.

    Files are matched by name, so the same files in another folder pass.

    Args:
        expected: The `files` list of the dataset metadata in `config.json`.
        found: The `files` list of the dataset loaded now.
        comparison_id: The comparison's id, for the message.
    """
    if not expected:
        return
    if not found:
        # NOTE: the arrays came from keras.datasets without their files, so
        # nothing can be compared; the run goes on with them.
        logger.warning(
            "Comparison %s recorded the SHA-256 of its dataset files, but the "
            "data loaded now lists no files, so they cannot be compared.",
            comparison_id,
        )
        return
    now = {os.path.basename(item["path"]): item for item in found}
    before = {os.path.basename(item["path"]): item for item in expected}
    lines = []
    for name, old in before.items():
        new = now.get(name)
        if new is None:
            lines.append(f"  {name}: sha256 {old['sha256']} at {old['path']}; not read now")
        elif new["sha256"] != old["sha256"]:
            lines.append(
                f"  {name}: sha256 {old['sha256']} at {old['path']}; "
                f"now sha256 {new['sha256']} at {new['path']}"
            )
    for name, new in now.items():
        if name not in before:
            lines.append(f"  {name}: not read before; now sha256 {new['sha256']} at {new['path']}")
    if not lines:
        return
    raise ConfigError(
        f"The dataset files differ from those comparison {comparison_id} started "
        "with, so resuming would train its runs on other data. Changed files:\n"
        + "\n".join(lines)
        + "\nPut the original files back, or pass the folder that holds them with "
        "--data-dir (Python: data_dir=...). To use the new files, start a new "
        "comparison with `labkit compare`."
    )
