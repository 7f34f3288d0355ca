"""Tests of the summary statistics."""

import math

import pandas as pd
import pytest

from labkit.stats import study_table, summarize


def _history(rows):
    return pd.DataFrame(rows, columns=["optimizer", "seed", "epoch", "loss", "accuracy", "time_per_epoch_s"])


def test_summarize_min_mean_max():
    history = _history([
        ("sgd", 0, 1, 2.0, 0.2, 10.0),
        ("sgd", 0, 2, 1.0, 0.6, 4.0),
        ("sgd", 0, 3, 0.5, 0.7, 4.0),
    ])

    summary = summarize(history).set_index(["optimizer", "metric"])

    assert summary.loc[("sgd", "loss"), "min"] == 0.5
    assert summary.loc[("sgd", "loss"), "mean"] == pytest.approx(3.5 / 3)
    assert summary.loc[("sgd", "loss"), "max"] == 2.0
    assert summary.loc[("sgd", "accuracy"), "best_mean"] == 0.7
    assert summary.loc[("sgd", "time_per_epoch_s"), "max"] == 10.0
    assert math.isnan(summary.loc[("sgd", "loss"), "final_std"])
    assert ("sgd", "val_loss") not in summary.index


def test_summarize_across_seeds():
    history = _history([
        ("adam", 0, 1, 1.0, 0.5, 1.0),
        ("adam", 0, 2, 0.8, 0.6, 1.0),
        ("adam", 1, 1, 1.2, 0.4, 1.0),
        ("adam", 1, 2, 0.6, 0.7, 1.0),
    ])

    row = summarize(history).set_index("metric").loc["accuracy"]

    assert row["seeds"] == 2
    assert row["final_mean"] == pytest.approx(0.65)
    assert row["final_std"] == pytest.approx(pd.Series([0.6, 0.7]).std())
    assert row["best_mean"] == pytest.approx(0.65)


def test_summarize_ignores_non_finite():
    history = _history([("sgd", 0, 1, 1.0, 0.5, 1.0), ("sgd", 0, 2, float("nan"), 0.5, 1.0)])

    row = summarize(history).set_index("metric").loc["loss"]

    assert row["max"] == 1.0
    assert row["final_mean"] == 1.0


def test_summarize_keeps_optimizer_order():
    history = _history([("sgd", 0, 1, 1, 0.5, 1), ("adam", 0, 1, 1, 0.5, 1), ("adagrad", 0, 1, 1, 0.5, 1)])

    assert list(dict.fromkeys(summarize(history)["optimizer"])) == ["sgd", "adam", "adagrad"]


def test_study_table_layout():
    history = _history([("sgd", 0, 1, 2.0, 0.25, 188.0), ("sgd", 0, 2, 1.0, 0.75, 209.0)])

    table = study_table(summarize(history))

    assert table.loc["training loss", "sgd min / mean / max"] == "1.0000 / 1.5000 / 2.0000"
    assert table.loc["time per epoch (s)", "sgd min / mean / max"] == "188.0 / 198.5 / 209.0"


def test_summarize_empty_history():
    assert summarize(pd.DataFrame(columns=["optimizer", "seed", "epoch", "loss"])).empty
