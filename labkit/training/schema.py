"""The tables of the results store and the values of their columns."""

import sqlalchemy as sa

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
    # Seeds go up to 2**32 - 1, past PostgreSQL's 32-bit INTEGER.
    sa.Column("seed", sa.BigInteger, nullable=False),
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


def missing_columns(engine):
    """Return the labkit tables and columns that a database lacks.

    Returns:
        A dict from table name to the list of its missing columns, or to
        None when the whole table is missing; empty when nothing is.
    """
    inspector = sa.inspect(engine)
    missing = {}
    for table in metadata.sorted_tables:
        if not inspector.has_table(table.name):
            missing[table.name] = None
            continue
        found = {column["name"] for column in inspector.get_columns(table.name)}
        lacking = [column.name for column in table.columns if column.name not in found]
        if lacking:
            missing[table.name] = lacking
    return missing
