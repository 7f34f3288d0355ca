"""The results store: comparisons, runs and every finished epoch.

The store writes through SQLAlchemy, to an SQLite file by default or to any
database URL SQLAlchemy accepts (PostgreSQL included). Each epoch is
committed as soon as it ends, so a run killed at any moment keeps every
epoch it finished.
"""

import datetime
import json
import logging
import math
import pathlib
import uuid

import sqlalchemy as sa

from labkit.errors import StoreError

logger = logging.getLogger(__name__)

RUN_STATUSES = ("pending", "running", "finished", "stopped", "diverged", "failed")
# A run in one of these states is complete and is never trained again.
DONE_STATUSES = ("finished", "diverged")

EPOCH_METRICS = (
    "time_per_epoch_s",
    "eval_time_s",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    "learning_rate",
)

metadata = sa.MetaData()

comparisons = sa.Table(
    "labkit_comparisons",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("settings", sa.Text, nullable=False),
    sa.Column("environment", sa.Text, nullable=False),
)

runs = sa.Table(
    "labkit_runs",
    metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column(
        "comparison_id",
        sa.String(32),
        sa.ForeignKey("labkit_comparisons.id"),
        nullable=False,
        index=True,
    ),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("optimizer", sa.String(64), nullable=False),
    sa.Column("seed", sa.Integer, nullable=False),
    sa.Column("config", sa.Text, nullable=False),
    sa.Column("hyperparameters", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("message", sa.Text, nullable=False, default=""),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("ended_at", sa.DateTime(timezone=True)),
)

epochs = sa.Table(
    "labkit_epochs",
    metadata,
    sa.Column("run_id", sa.String(32), sa.ForeignKey("labkit_runs.id"), primary_key=True),
    sa.Column("epoch", sa.Integer, primary_key=True),
    *(sa.Column(name, sa.Float) for name in EPOCH_METRICS),
    sa.Column("includes_compile", sa.Boolean, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _new_id():
    return uuid.uuid4().hex[:12]


def _finite_or_none(value):
    # SQLite turns NaN into NULL and PostgreSQL keeps it: store None in both
    # so a missing or non-finite value reads back the same everywhere.
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def sqlite_url(path):
    """Return the SQLAlchemy URL of an SQLite file at `path`."""
    return f"sqlite:///{pathlib.Path(path).resolve()}"


class ResultsStore:
    """Comparisons, runs and per-epoch metrics in an SQL database.

    Args:
        url: An SQLAlchemy database URL, such as `"sqlite:///runs.db"` or
            `"postgresql+psycopg://user@localhost/labkit"`.

    Raises:
        StoreError: if the database cannot be opened or its tables created.
    """

    def __init__(self, url):
        self.url = str(url)
        try:
            self.engine = sa.create_engine(self.url)
            if self.engine.dialect.name == "sqlite":
                sa.event.listen(self.engine, "connect", _sqlite_pragmas)
            metadata.create_all(self.engine)
        except (sa.exc.SQLAlchemyError, ImportError, ValueError) as error:
            raise StoreError(
                f"Cannot open the results store {self.safe_url}: {error}. "
                "Check the URL, that the database server runs and that the "
                "folder of an SQLite file exists and is writable."
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

    def create_comparison(self, name, settings, environment):
        """Record a new comparison and return its id."""
        comparison_id = _new_id()
        with self.engine.begin() as connection:
            connection.execute(
                comparisons.insert().values(
                    id=comparison_id,
                    name=name,
                    created_at=_now(),
                    settings=json.dumps(settings, sort_keys=True),
                    environment=json.dumps(environment, sort_keys=True),
                )
            )
        return comparison_id

    def create_run(self, comparison_id, position, config, hyperparameters):
        """Record a pending run of a comparison and return its id."""
        run_id = _new_id()
        with self.engine.begin() as connection:
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
        with self.engine.begin() as connection:
            connection.execute(runs.update().where(runs.c.id == run_id).values(**values))
        logger.info("Run %s is %s. %s", run_id, status, message)

    def add_epoch(self, run_id, row):
        """Commit one finished epoch.

        Args:
            run_id: The run's id.
            row: A mapping with `epoch`, `includes_compile` and any of
                `EPOCH_METRICS`; missing metrics are stored as NULL.
        """
        values = {name: _finite_or_none(row.get(name)) for name in EPOCH_METRICS}
        with self.engine.begin() as connection:
            connection.execute(
                epochs.insert().values(
                    run_id=run_id,
                    epoch=int(row["epoch"]),
                    includes_compile=bool(row.get("includes_compile", False)),
                    recorded_at=_now(),
                    **values,
                )
            )

    def truncate_epochs(self, run_id, last_epoch):
        """Delete a run's epochs after `last_epoch` and return how many went."""
        with self.engine.begin() as connection:
            result = connection.execute(
                epochs.delete().where(epochs.c.run_id == run_id, epochs.c.epoch > last_epoch)
            )
        return result.rowcount

    # -- reading ---------------------------------------------------------

    def comparison(self, comparison_id):
        """Return a comparison as a dict with its decoded settings.

        Raises:
            StoreError: if no comparison has this id.
        """
        with self.engine.connect() as connection:
            row = connection.execute(
                comparisons.select().where(comparisons.c.id == comparison_id)
            ).mappings().first()
        if row is None:
            known = [item["id"] for item in self.comparisons()][-5:]
            raise StoreError(
                f"No comparison with id {comparison_id!r} in {self.safe_url}. "
                f"Latest ids: {', '.join(known) or 'none'}. "
                "Run `labkit summary --list` to see them all."
            )
        result = dict(row)
        result["settings"] = json.loads(result["settings"])
        result["environment"] = json.loads(result["environment"])
        return result

    def comparisons(self):
        """Return every comparison, oldest first, without settings."""
        query = sa.select(
            comparisons.c.id, comparisons.c.name, comparisons.c.created_at
        ).order_by(comparisons.c.created_at)
        with self.engine.connect() as connection:
            return [dict(row) for row in connection.execute(query).mappings()]

    def latest_comparison_id(self):
        """Return the id of the newest comparison, or None if there is none."""
        items = self.comparisons()
        return items[-1]["id"] if items else None

    def runs(self, comparison_id):
        """Return a comparison's runs in training order, as dicts."""
        query = runs.select().where(runs.c.comparison_id == comparison_id).order_by(
            runs.c.position
        )
        with self.engine.connect() as connection:
            rows = [dict(row) for row in connection.execute(query).mappings()]
        for row in rows:
            row["hyperparameters"] = json.loads(row["hyperparameters"])
        return rows

    def run(self, run_id):
        """Return one run as a dict.

        Raises:
            StoreError: if no run has this id.
        """
        with self.engine.connect() as connection:
            row = connection.execute(runs.select().where(runs.c.id == run_id)).mappings().first()
        if row is None:
            raise StoreError(f"No run with id {run_id!r} in {self.safe_url}.")
        result = dict(row)
        result["hyperparameters"] = json.loads(result["hyperparameters"])
        return result

    def epochs(self, run_id):
        """Return a run's epochs in order, as dicts; NULL metrics are NaN."""
        query = epochs.select().where(epochs.c.run_id == run_id).order_by(epochs.c.epoch)
        with self.engine.connect() as connection:
            rows = [dict(row) for row in connection.execute(query).mappings()]
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


def _sqlite_pragmas(connection, _record):
    # WAL lets a reader (a dashboard, `labkit summary`) read while a run
    # writes; a busy timeout makes two writers wait instead of failing.
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()
