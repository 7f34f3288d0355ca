"""Load the comparison an export describes, from a folder or a result."""

import dataclasses
import json
import logging
import pathlib

from labkit.errors import ConfigError, LabkitError
from labkit.training.results import ComparisonResult

logger = logging.getLogger(__name__)


@dataclasses.dataclass
class StoredComparison:
    """A comparison with everything its export records.

    Attributes:
        result: The `ComparisonResult`, with history and runs.
        name: The comparison's label, such as `"sgd vs adam"`.
        run_configs: Mapping from run id to its `RunConfig` as a dict.
        data: The dataset description: name, source, split sizes and each
            file's sha256, or `{}` when the store does not contain it.
        environment: Versions, backend and devices the comparison ran on.
    """

    result: ComparisonResult
    name: str
    run_configs: dict
    data: dict
    environment: dict


def _open_folder(folder, store_url, comparison_id):
    from labkit.training import ResultsStore, read_config
    from labkit.training.store import sqlite_url

    folder = pathlib.Path(folder)
    if not folder.is_dir():
        raise ConfigError(
            f"The folder {str(folder)!r} does not exist or is not a folder. Give the "
            "--out folder of an earlier `labkit compare`, such as labkit-runs/20250101-120000-0123456789ab."
        )
    saved = read_config(folder, require_store=store_url is None)
    if store_url is None:
        if saved.get("store_has_password"):
            raise ConfigError(
                f"The store of {folder} has a password, which labkit does not write to "
                "disk. Pass the full URL with --store."
            )
        store_url = saved["store"]
    if "://" not in store_url:
        store_url = sqlite_url(store_url)
    # An export only reads: a missing store is an error, never a new file.
    return ResultsStore(store_url, create=False), comparison_id or saved["comparison_id"], folder


def load_comparison(source, *, store=None, comparison_id=None):
    """Load a comparison and the settings and environment it ran with.

    Args:
        source: A `ComparisonResult`, or the output folder of
            `labkit compare` (it contains `config.json`).
        store: SQLAlchemy URL of the results store, for a folder whose store
            `config.json` cannot name, such as one with a password.
        comparison_id: The comparison's id in the store. Defaults to the one
            in `config.json`.

    Returns:
        A `StoredComparison`.

    Raises:
        ConfigError: if the folder is missing or contains no comparison.
        StoreError: if the store cannot be opened or lacks the comparison.
    """
    from labkit.training import ResultsStore

    if isinstance(source, ComparisonResult):
        result = source
        try:
            results_store = ResultsStore(store or result.store_url)
            comparison = results_store.comparison(result.comparison_id)
            configs = {run["id"]: json.loads(run["config"]) for run in results_store.runs(result.comparison_id)}
        except LabkitError as error:
            # NOTE: a store whose URL has a password cannot be reopened from the
            # result's `store_url`, so the export records only what the result holds.
            logger.warning("Cannot read the settings of comparison %s: %s", result.comparison_id, error)
            comparison = {"name": result.comparison_id, "settings": {}, "environment": {}}
            configs = {}
    else:
        if not isinstance(source, (str, pathlib.Path)):
            raise ConfigError(
                "The comparison to export must be a ComparisonResult or the path of an output "
                f"folder of `labkit compare`. Received: {type(source).__name__} {source!r}"
            )
        results_store, comparison_id, folder = _open_folder(source, store, comparison_id)
        comparison = results_store.comparison(comparison_id)
        result = ComparisonResult.from_store(results_store, comparison_id, folder)
        configs = {run["id"]: json.loads(run["config"]) for run in results_store.runs(comparison_id)}
    return StoredComparison(
        result=result,
        name=comparison["name"],
        run_configs=configs,
        data=comparison["settings"].get("data", {}),
        environment=comparison["environment"],
    )
