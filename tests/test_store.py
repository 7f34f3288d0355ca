"""Tests of the results store, on SQLite and on a real PostgreSQL server."""

import math
import os
import uuid

import pytest
import sqlalchemy as sa

from labkit.errors import StoreError
from labkit.training import RunConfig
from labkit.training.store import EPOCH_METRICS, ResultsStore, sqlite_url


def _postgres_url():
    url = os.environ.get("LABKIT_TEST_POSTGRES_URL")
    if url:
        return url
    if os.environ.get("CI"):
        pytest.fail("CI must run the store tests on PostgreSQL: set LABKIT_TEST_POSTGRES_URL.")
    pytest.skip("LABKIT_TEST_POSTGRES_URL is not set; bash .ci/test sets it.")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        results = ResultsStore(sqlite_url(tmp_path / "results.db"))
        yield results
        results.close()
        return
    # Each test gets its own schema, so tests never see each other's rows.
    base = sa.engine.make_url(_postgres_url())
    schema = f"labkit_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base)
    with admin.begin() as connection:
        connection.execute(sa.text(f"CREATE SCHEMA {schema}"))
    url = base.update_query_dict({"options": f"-csearch_path={schema}"})
    results = ResultsStore(url.render_as_string(hide_password=False))
    yield results
    results.close()
    with admin.begin() as connection:
        connection.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
    admin.dispose()


def _comparison(store, optimizers=("sgd", "adam")):
    comparison_id = store.create_comparison("test", {"note": "tiny"}, {"backend": "tensorflow"})
    run_ids = []
    for position, name in enumerate(optimizers):
        config = RunConfig(optimizer=name, dataset="fashion_mnist", epochs=3)
        run_ids.append(store.create_run(comparison_id, position, config, {"learning_rate": 0.01}))
    return comparison_id, run_ids


def _row(epoch, loss=1.0):
    return {
        "epoch": epoch,
        "time_per_epoch_s": 2.5,
        "eval_time_s": 0.5,
        "loss": loss,
        "accuracy": 0.5,
        "val_loss": 1.1,
        "val_accuracy": 0.45,
        "learning_rate": 0.01,
        "includes_compile": epoch == 1,
    }


def test_store_round_trips_epochs(store):
    comparison_id, (run_id, _) = _comparison(store)
    store.add_epoch(run_id, _row(1, loss=2.0))
    store.add_epoch(run_id, _row(2, loss=1.5))

    rows = store.epochs(run_id)

    assert [row["epoch"] for row in rows] == [1, 2]
    assert rows[0]["loss"] == 2.0
    assert rows[0]["includes_compile"] is True
    assert rows[1]["includes_compile"] is False
    assert math.isnan(rows[0]["test_loss"])


def test_store_history_has_one_row_per_epoch(store):
    comparison_id, run_ids = _comparison(store)
    for run_id in run_ids:
        for epoch in (1, 2, 3):
            store.add_epoch(run_id, _row(epoch))

    history = store.history(comparison_id)

    assert len(history) == 6
    assert list(history["optimizer"].unique()) == ["sgd", "adam"]
    assert set(EPOCH_METRICS) <= set(history.columns)


def test_store_rejects_duplicate_epoch(store):
    _, (run_id, _) = _comparison(store)
    store.add_epoch(run_id, _row(1))

    with pytest.raises(sa.exc.IntegrityError):
        store.add_epoch(run_id, _row(1))

    assert len(store.epochs(run_id)) == 1


def test_store_keeps_non_finite_as_missing(store):
    _, (run_id, _) = _comparison(store)
    store.add_epoch(run_id, _row(1, loss=float("nan")))
    store.add_epoch(run_id, _row(2, loss=float("inf")))

    rows = store.epochs(run_id)

    assert math.isnan(rows[0]["loss"])
    assert math.isnan(rows[1]["loss"])


def test_store_truncate_epochs_drops_later(store):
    _, (run_id, _) = _comparison(store)
    for epoch in (1, 2, 3):
        store.add_epoch(run_id, _row(epoch))

    removed = store.truncate_epochs(run_id, 1)

    assert removed == 2
    assert [row["epoch"] for row in store.epochs(run_id)] == [1]


def test_store_status_transitions(store):
    comparison_id, (run_id, _) = _comparison(store)
    assert store.run(run_id)["status"] == "pending"

    store.set_status(run_id, "running")
    assert store.run(run_id)["started_at"] is not None
    assert store.run(run_id)["ended_at"] is None

    store.set_status(run_id, "diverged", "loss became nan")
    run = store.run(run_id)
    assert run["status"] == "diverged"
    assert run["message"] == "loss became nan"
    assert run["ended_at"] is not None


def test_store_runs_keep_config(store):
    comparison_id, _ = _comparison(store)

    runs = store.runs(comparison_id)

    assert [run["position"] for run in runs] == [0, 1]
    config = RunConfig.from_json(runs[1]["config"])
    assert config.optimizer == "adam"
    assert config.epochs == 3
    assert runs[0]["hyperparameters"] == {"learning_rate": 0.01}


def test_store_unknown_comparison_message(store):
    _comparison(store)

    with pytest.raises(StoreError, match="No comparison with id 'nope'"):
        store.comparison("nope")


def test_store_unreachable_url_message(tmp_path):
    missing = tmp_path / "no-such-folder" / "results.db"

    with pytest.raises(StoreError, match="Cannot open the results store"):
        ResultsStore(sqlite_url(missing))


def test_store_hides_password():
    results = ResultsStore.__new__(ResultsStore)
    results.url = "postgresql+psycopg://ann:secret@127.0.0.1:1/db"

    assert "secret" not in results.safe_url
    assert "***" in results.safe_url
