"""The results store: comparisons, runs and every finished epoch.

The store writes through SQLAlchemy, to an SQLite file by default or to any
database URL SQLAlchemy accepts (PostgreSQL included). Each epoch is
committed as soon as it ends, so a run killed at any moment keeps every
epoch it finished.
"""

import contextlib
import datetime
import json
import logging
import math
import os
import shlex
import uuid

import sqlalchemy as sa

from labkit.errors import StoreError
from labkit.training.schema import (
    DONE_STATUSES,
    EPOCH_METRICS,
    RUN_STATUSES,
    comparisons,
    epochs,
    metadata,
    missing_columns,
    runs,
)
from labkit.training.store_url import normalize_url, sqlite_file, sqlite_url

logger = logging.getLogger(__name__)

__all__ = [
    "DONE_STATUSES",
    "EPOCH_METRICS",
    "RUN_STATUSES",
    "ResultsStore",
    "StoreError",
    "new_comparison_id",
    "normalize_url",
    "sqlite_url",
]


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def new_comparison_id():
    """Return a new random id for a comparison or a run (12 hex digits)."""
    return uuid.uuid4().hex[:12]


def _finite_or_none(value):
    # SQLite turns NaN into NULL and PostgreSQL keeps it: store None in both
    # so a missing or non-finite value reads back the same everywhere.
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class ResultsStore:
    """Comparisons, runs and per-epoch metrics in an SQL database.

    Every read and write raises `StoreError` on a database error, with the
    store's URL (password hidden) and what to do.

    Args:
        url: An SQLAlchemy database URL, such as `"sqlite:///runs.db"` or
            `"postgresql+psycopg://user@localhost/labkit"`, as a string or a
            `sqlalchemy.engine.URL`. The path of an SQLite file is made
            absolute.
        create: Whether to create the database file and its tables when
            they are missing. With `False` the store must exist already, so
            a read never leaves an empty database behind. Defaults to `True`.

    Raises:
        StoreError: if the database cannot be opened, its tables cannot be
            created, or they lack columns that labkit writes; with
            `create=False` also if the SQLite file or the tables are missing.
    """

    def __init__(self, url, create=True):
        parsed = normalize_url(url)
        self.url = parsed.render_as_string(hide_password=False)
        path = sqlite_file(parsed)
        if not create and path is not None and not os.path.isfile(path):
            raise StoreError(
                f"The results store file {path} does not exist. Check the path "
                "(`labkit summary DIR` finds the store of an output folder from "
                "its config.json), or name the store with --store URL."
            )
        try:
            self.engine = sa.create_engine(parsed)
            if self.engine.dialect.name == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            if create:
                metadata.create_all(self.engine)
        except (sa.exc.SQLAlchemyError, ImportError, ValueError) as error:
            raise StoreError(
                f"Cannot open the results store {self.safe_url}: {_reason(error)}. "
                "Check the URL, that the database server runs and that the "
                "folder of an SQLite file exists and is writable."
            ) from error
        try:
            self._check_schema()
        except StoreError:
            self.engine.dispose()
            raise

    def _check_schema(self):
        """Raise `StoreError` unless every labkit table has every column."""
        with self._errors("read the tables"):
            missing = missing_columns(self.engine)
        if not missing:
            return
        if all(columns is None for columns in missing.values()):
            raise StoreError(
                f"The database {self.safe_url} contains no labkit results (no table "
                f"{', '.join(missing)}). Check the URL or file name."
            )
        details = "; ".join(
            f"table {table} is missing" if columns is None
            else f"table {table} lacks the column(s) {', '.join(columns)}"
            for table, columns in missing.items()
        )
        raise StoreError(
            f"The results store {self.safe_url} does not have the tables this "
            f"labkit version writes: {details}. It was written by another labkit "
            "version or changed by hand. Use a new store (another --out folder or "
            "--store URL), or restore the database from a backup."
        )

    @contextlib.contextmanager
    def _errors(self, action):
        """Raise a `StoreError` that names the store for a database error."""
        try:
            yield
        except sa.exc.SQLAlchemyError as error:
            raise StoreError(
                f"Cannot {action} in the results store {self.safe_url}: "
                f"{_reason(error)}. {_advice(error)}"
            ) from error

    @property
    def safe_url(self):
        """The URL with any password hidden, for messages and logs."""
        try:
            return sa.engine.make_url(self.url).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:
            return "<invalid URL>"

    def close(self):
        """Release the database connections."""
        self.engine.dispose()

    # -- writing ---------------------------------------------------------

    def create_comparison(self, name, settings, environment, comparison_id=None):
        """Record a new comparison and return its id.

        Args:
            comparison_id: The id to record. Defaults to a new random id.
        """
        comparison_id, _ = self.record_comparison(
            name, settings, environment, [], comparison_id=comparison_id
        )
        return comparison_id

    def record_comparison(self, name, settings, environment, runs, comparison_id=None):
        """Record a comparison and its pending runs in one transaction.

        Either all of it is stored or, on an error, none of it.

        Args:
            name: The comparison's label.
            settings: JSON-serialisable settings of the comparison.
            environment: JSON-serialisable description of the environment.
            runs: `(config, hyperparameters)` pairs, in training order.
            comparison_id: The id to record. Defaults to a new random id.

        Returns:
            `(comparison_id, run_ids)`.
        """
        comparison_id = comparison_id or new_comparison_id()
        run_ids = []
        with self._errors(f"record comparison {comparison_id}"), self.engine.begin() as connection:
            connection.execute(
                comparisons.insert().values(
                    id=comparison_id,
                    name=name,
                    created_at=_now(),
                    settings=json.dumps(settings, sort_keys=True),
                    environment=json.dumps(environment, sort_keys=True),
                )
            )
            for position, (config, hyperparameters) in enumerate(runs):
                run_ids.append(
                    _insert_run(connection, comparison_id, position, config, hyperparameters)
                )
        return comparison_id, run_ids

    def create_run(self, comparison_id, position, config, hyperparameters):
        """Record a pending run of a comparison and return its id."""
        with self._errors(f"record a run of comparison {comparison_id}"), self.engine.begin() as connection:
            return _insert_run(connection, comparison_id, position, config, hyperparameters)

    def delete_comparison(self, comparison_id):
        """Delete a comparison with its runs and epochs, in one transaction."""
        run_ids = sa.select(runs.c.id).where(runs.c.comparison_id == comparison_id)
        with self._errors(f"delete comparison {comparison_id}"), self.engine.begin() as connection:
            connection.execute(epochs.delete().where(epochs.c.run_id.in_(run_ids)))
            connection.execute(runs.delete().where(runs.c.comparison_id == comparison_id))
            connection.execute(comparisons.delete().where(comparisons.c.id == comparison_id))

    def set_status(self, run_id, status, message=""):
        """Set a run's status; a final status also sets its end time."""
        if status not in RUN_STATUSES:
            raise ValueError(f"Unknown run status {status!r}; use one of {RUN_STATUSES}.")
        values = {"status": status, "message": message}
        if status == "running":
            values["started_at"] = _now()
            values["ended_at"] = None
        elif status != "pending":
            values["ended_at"] = _now()
        with self._errors(f"set the status of run {run_id}"), self.engine.begin() as connection:
            connection.execute(runs.update().where(runs.c.id == run_id).values(**values))
        logger.info("Run %s is %s. %s", run_id, status, message)

    def add_epoch(self, run_id, row):
        """Commit one finished epoch.

        Args:
            run_id: The run's id.
            row: A mapping with `epoch`, `includes_compile` and any of
                `EPOCH_METRICS`; missing metrics are stored as NULL.

        Raises:
            StoreError: if the epoch is stored already, or on any other
                database error.
        """
        values = {name: _finite_or_none(row.get(name)) for name in EPOCH_METRICS}
        epoch = int(row["epoch"])
        with self._errors(f"record epoch {epoch} of run {run_id}"), self.engine.begin() as connection:
            connection.execute(
                epochs.insert().values(
                    run_id=run_id,
                    epoch=epoch,
                    includes_compile=bool(row.get("includes_compile", False)),
                    recorded_at=_now(),
                    **values,
                )
            )

    def truncate_epochs(self, run_id, last_epoch):
        """Delete a run's epochs after `last_epoch` and return how many went."""
        with self._errors(f"delete epochs of run {run_id}"), self.engine.begin() as connection:
            result = connection.execute(
                epochs.delete().where(epochs.c.run_id == run_id, epochs.c.epoch > last_epoch)
            )
        return result.rowcount

    # -- reading ---------------------------------------------------------

    def _select(self, query, action):
        with self._errors(action), self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def comparison(self, comparison_id):
        """Return a comparison as a dict with its decoded settings.

        Raises:
            StoreError: if no comparison has this id.
        """
        rows = self._select(
            comparisons.select().where(comparisons.c.id == comparison_id),
            f"read comparison {comparison_id}",
        )
        if not rows:
            known = [item["id"] for item in self.comparisons()][-5:]
            raise StoreError(
                f"No comparison with id {comparison_id!r} in {self.safe_url}. "
                f"Latest ids: {', '.join(known) or 'none'}. "
                f"Run `{self.list_command}` to see them all."
            )
        result = rows[0]
        result["settings"] = json.loads(result["settings"])
        result["environment"] = json.loads(result["environment"])
        return result

    @property
    def list_command(self):
        """The `labkit summary` command that lists this store's comparisons.

        The password of a URL is shown as `***`; type it in its place.
        """
        return f"labkit summary --list --store {shlex.quote(self.safe_url)}"

    def comparisons(self):
        """Return every comparison, oldest first, without settings."""
        query = sa.select(
            comparisons.c.id, comparisons.c.name, comparisons.c.created_at
        ).order_by(comparisons.c.created_at)
        return self._select(query, "list the comparisons")

    def latest_comparison_id(self):
        """Return the id of the newest comparison, or None if there is none."""
        items = self.comparisons()
        return items[-1]["id"] if items else None

    def runs(self, comparison_id):
        """Return a comparison's runs in training order, as dicts."""
        query = runs.select().where(runs.c.comparison_id == comparison_id).order_by(
            runs.c.position
        )
        rows = self._select(query, f"read the runs of comparison {comparison_id}")
        for row in rows:
            row["hyperparameters"] = json.loads(row["hyperparameters"])
        return rows

    def run(self, run_id):
        """Return one run as a dict.

        Raises:
            StoreError: if no run has this id.
        """
        rows = self._select(runs.select().where(runs.c.id == run_id), f"read run {run_id}")
        if not rows:
            raise StoreError(f"No run with id {run_id!r} in {self.safe_url}.")
        result = rows[0]
        result["hyperparameters"] = json.loads(result["hyperparameters"])
        return result

    def epochs(self, run_id):
        """Return a run's epochs in order, as dicts; NULL metrics are NaN."""
        query = epochs.select().where(epochs.c.run_id == run_id).order_by(epochs.c.epoch)
        rows = self._select(query, f"read the epochs of run {run_id}")
        for row in rows:
            for name in EPOCH_METRICS:
                if row[name] is None:
                    row[name] = math.nan
        return rows

    def history(self, comparison_id):
        """Return every epoch of a comparison as a pandas DataFrame.

        The frame has one row per run and epoch, with the columns
        `comparison_id`, `run_id`, `optimizer`, `seed`, `status`, `epoch`,
        the metrics of `EPOCH_METRICS` and `includes_compile`.
        """
        import pandas as pd

        records = []
        for run in self.runs(comparison_id):
            for row in self.epochs(run["id"]):
                record = {
                    "comparison_id": comparison_id,
                    "run_id": run["id"],
                    "optimizer": run["optimizer"],
                    "seed": run["seed"],
                    "status": run["status"],
                    "epoch": row["epoch"],
                }
                record.update({name: row[name] for name in EPOCH_METRICS})
                record["includes_compile"] = row["includes_compile"]
                records.append(record)
        columns = [
            "comparison_id", "run_id", "optimizer", "seed", "status", "epoch",
            *EPOCH_METRICS, "includes_compile",
        ]
        return pd.DataFrame.from_records(records, columns=columns)


def _insert_run(connection, comparison_id, position, config, hyperparameters):
    run_id = new_comparison_id()
    connection.execute(
        runs.insert().values(
            id=run_id,
            comparison_id=comparison_id,
            position=position,
            optimizer=config.optimizer,
            seed=config.seed,
            config=config.to_json(),
            hyperparameters=json.dumps(hyperparameters, sort_keys=True),
            status="pending",
            message="",
        )
    )
    return run_id


def _reason(error):
    # The driver's own message, without the SQL statement SQLAlchemy appends.
    # PostgreSQL adds a DETAIL line; one line reads better in a message.
    original = getattr(error, "orig", None)
    text = str(original if original is not None else error)
    return " ".join(text.split()).rstrip(".")


def _advice(error):
    reason = _reason(error).lower()
    if "malformed" in reason or "not a database" in reason:
        return (
            "The database file is damaged. Restore it from a backup, or copy "
            "what is left into a new file with the sqlite3 shell's .recover command."
        )
    if "no such" in reason or "does not exist" in reason or "undefined" in reason:
        return (
            "The tables do not match this labkit version. Use a new store "
            "(another --out folder or --store URL) or restore it from a backup."
        )
    if isinstance(error, sa.exc.IntegrityError):
        return "The record exists already; nothing was changed."
    if "locked" in reason:
        return "Another process holds the database; retry when it is done."
    return "Check that the database server runs and that the store is intact."


def _sqlite_pragmas(connection, _record):
    # WAL lets a reader (a dashboard, `labkit summary`) read while a run
    # writes; a busy timeout makes two writers wait instead of failing.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
