"""The result of a comparison and the files written beside it."""

import dataclasses
import logging
import os
import pathlib

from labkit import stats

logger = logging.getLogger(__name__)

HISTORY_FILE = "history.csv"
SUMMARY_FILE = "summary.csv"


@dataclasses.dataclass
class ComparisonResult:
    """What a finished, stopped or partly failed comparison produced.

    Attributes:
        comparison_id: The comparison's id in the results store.
        store_url: The store's URL, password hidden.
        output_dir: Folder of `config.json`, `history.csv`, `summary.csv`.
        runs: One dict per run: `id`, `optimizer`, `seed`, `status`,
            `message`, `hyperparameters`.
        history: A pandas DataFrame, one row per run and epoch.
        runs_trained: How many runs the `compare` or `resume` call that
            returned this result set out to train: 0 when every run was
            finished or diverged already. `None` for a result read from the
            store alone.
    """

    comparison_id: str
    store_url: str
    output_dir: pathlib.Path
    runs: list
    history: object
    runs_trained: int | None = None

    @classmethod
    def from_store(cls, store, comparison_id, output_dir, runs_trained=None):
        """Read a comparison back from the store."""
        keys = ("id", "optimizer", "seed", "status", "message", "hyperparameters")
        runs = [{key: run[key] for key in keys} for run in store.runs(comparison_id)]
        return cls(
            comparison_id=comparison_id,
            store_url=store.safe_url,
            output_dir=pathlib.Path(output_dir) if output_dir else None,
            runs=runs,
            history=store.history(comparison_id),
            runs_trained=runs_trained,
        )

    @property
    def statuses(self):
        """Mapping from `(optimizer, seed)` to the run's status."""
        return {(run["optimizer"], run["seed"]): run["status"] for run in self.runs}

    def summary(self):
        """Return the study's min/mean/max table; see `labkit.stats.summarize`."""
        return stats.summarize(self.history)


def write_outputs(store, comparison_id, output_dir):
    """Write `history.csv` and `summary.csv` of a comparison into a folder."""
    output_dir = pathlib.Path(output_dir)
    history = store.history(comparison_id)
    # Write under a temporary name and rename, so a kill never leaves a
    # half-written file; the store holds the same numbers either way.
    for name, frame in (
        (HISTORY_FILE, history),
        (SUMMARY_FILE, stats.summarize(history)),
    ):
        temporary = output_dir / f".{name}.tmp"
        frame.to_csv(temporary, index=False)
        os.replace(temporary, output_dir / name)
