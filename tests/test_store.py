"""Tests of the results store, on SQLite and on a real PostgreSQL server."""

import math
import os
import re
import shlex
import sqlite3
import uuid

import pytest
import sqlalchemy as sa

from labkit.errors import StoreError
from labkit.training import MAX_SEED, RunConfig
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

    with pytest.raises(StoreError, match="Cannot record epoch 1 of run .*exists already"):
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


def test_store_keeps_largest_seed(store):
    comparison_id = store.create_comparison("test", {}, {})
    config = RunConfig(optimizer="sgd", dataset="fashion_mnist", seed=MAX_SEED)

    run_id = store.create_run(comparison_id, 0, config, {})

    assert store.run(run_id)["seed"] == MAX_SEED


def test_store_records_comparison_atomically(store):
    config = RunConfig(optimizer="sgd", dataset="fashion_mnist")
    unserialisable = {"learning_rate": object()}

    with pytest.raises(TypeError):
        store.record_comparison("test", {}, {}, [(config, {}), (config, unserialisable)])

    assert store.comparisons() == []


def test_store_delete_comparison(store):
    comparison_id, (run_id, _) = _comparison(store)
    kept_id, (kept_run, _) = _comparison(store)
    store.add_epoch(run_id, _row(1))
    store.add_epoch(kept_run, _row(1))

    store.delete_comparison(comparison_id)

    assert [item["id"] for item in store.comparisons()] == [kept_id]
    assert store.epochs(run_id) == []
    assert len(store.epochs(kept_run)) == 1


@pytest.mark.parametrize("folder", ["a?b", "%41", "a#b", "x@y:z", "sp ace"])
def test_sqlite_url_keeps_odd_characters(tmp_path, folder):
    path = tmp_path / folder / "results.db"
    path.parent.mkdir()

    url = sqlite_url(path)
    ResultsStore(url).close()

    assert sa.engine.make_url(url).database == str(path)
    assert path.is_file()
    assert sorted(item.name for item in tmp_path.iterdir()) == [folder]


def test_store_makes_relative_sqlite_absolute(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)

    results = ResultsStore("sqlite:///rel.db?timeout=5")
    results.close()

    url = sa.engine.make_url(results.url)
    assert url.database == str(tmp_path / "rel.db")
    assert url.query == {"timeout": "5"}
    assert results.safe_url == results.url


def test_store_without_create_missing_file(tmp_path):
    missing = tmp_path / "results.db"

    with pytest.raises(StoreError, match=f"The results store file {missing} does not exist"):
        ResultsStore(sqlite_url(missing), create=False)

    assert not missing.exists()


def test_store_without_create_no_tables(tmp_path):
    empty = tmp_path / "other.db"
    sqlite3.connect(empty).close()

    with pytest.raises(StoreError, match="contains no labkit results"):
        ResultsStore(sqlite_url(empty), create=False)


def test_store_without_create_reads_existing(tmp_path):
    path = tmp_path / "results.db"
    writer = ResultsStore(sqlite_url(path))
    comparison_id, _ = _comparison(writer)
    writer.close()

    reader = ResultsStore(sqlite_url(path), create=False)

    assert reader.latest_comparison_id() == comparison_id
    reader.close()


def test_store_damaged_file_message(tmp_path):
    path = tmp_path / "results.db"
    writer = ResultsStore(sqlite_url(path))
    comparison_id, (run_id, _) = _comparison(writer)
    for epoch in range(1, 400):
        writer.add_epoch(run_id, _row(epoch))
    writer.close()
    size = path.stat().st_size
    with open(path, "r+b") as stream:
        # Keep the header and the schema pages, overwrite the data pages.
        stream.seek(2 * 4096)
        stream.write(b"\xff" * (size - 3 * 4096))
    reader = ResultsStore(sqlite_url(path), create=False)

    with pytest.raises(StoreError) as error:
        reader.history(comparison_id)

    message = str(error.value)
    assert f"in the results store sqlite:///{path}: database disk image is malformed" in message
    assert "Restore it from a backup" in message
    assert isinstance(error.value.__cause__, sa.exc.DatabaseError)


def test_store_missing_column_message(tmp_path):
    path = tmp_path / "results.db"
    _comparison(ResultsStore(sqlite_url(path)))
    connection = sqlite3.connect(path)
    connection.execute("ALTER TABLE labkit_epochs DROP COLUMN val_loss")
    connection.commit()
    connection.close()

    with pytest.raises(StoreError) as error:
        ResultsStore(sqlite_url(path), create=False)

    message = str(error.value)
    assert "table labkit_epochs lacks the column(s) val_loss" in message
    assert "Use a new store" in message


def test_store_unknown_comparison_command_works(tmp_path, capsys):
    from labkit import cli

    results = ResultsStore(sqlite_url(tmp_path / "a?b.db"))
    comparison_id, _ = _comparison(results)

    with pytest.raises(StoreError) as error:
        results.comparison("nope")

    command = re.search(r"Run `(labkit [^`]+)`", str(error.value)).group(1)
    arguments = shlex.split(command)[1:]
    assert cli.main(arguments) == 0
    assert comparison_id in capsys.readouterr().out
