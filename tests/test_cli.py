"""Tests of the `labkit` command, run as a user runs it."""

import os
import signal
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from labkit.cli import main, parse_settings
from labkit.errors import ConfigError

TINY_ARGS = [
    "--dataset", "fashion_mnist", "--offline", "--model", "mlp",
    "--model-option", "hidden_units=16", "--train-size", "120",
    "--validation", "0.25", "--no-augmentation", "--no-progress",
]


def _labkit(*args, env=None, timeout=300):
    environment = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "labkit.cli", *args],
        capture_output=True, text=True, env=environment, timeout=timeout,
    )


def test_help_states_units_and_ranges(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--help"])

    text = " ".join(capsys.readouterr().out.split())
    assert exit_info.value.code == 0
    assert "images per training step, >= 1" in text
    assert "epochs per run, >= 1" in text
    assert "a fraction in (0, 1)" in text
    assert "adam.learning_rate=3e-4" in text


def test_parse_settings_nested():
    settings = parse_settings(["adam.learning_rate=3e-4", "sgd.nesterov=true", "SGD.momentum=0.9"])

    assert settings == {"adam": {"learning_rate": 3e-4}, "sgd": {"nesterov": True, "momentum": 0.9}}


def test_parse_settings_bad_form():
    with pytest.raises(ConfigError, match="OPTIMIZER.PARAMETER=VALUE"):
        parse_settings(["learning_rate=0.1"])


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--optimizers", "sgd,adamm"], "Unknown optimizer 'adamm'"),
        (["--set", "adam.learning_rate=-1"], "learning_rate"),
        (["--set", "adam.learning_rat=0.1"], "learning_rat"),
        (["--set", "sgd.learning_rate=0.1"], "not among the optimizers compared"),
        (["--validation", "2.5"], "validation must be"),
        (["--set", "adamlr=1"], "OPTIMIZER.PARAMETER=VALUE"),
        (["--model-option", "width=-1", "--model", "cifar10_cnn"], "width"),
        (["--model-option", "depth=3"], "Unknown option for model"),
    ],
)
def test_compare_bad_input_exits_2(args, expected, capsys, tmp_path):
    code = main(["compare", "--optimizers", "adam", *TINY_ARGS, "--out", str(tmp_path), *args])

    error = capsys.readouterr().err
    assert code == 2
    assert expected in error
    assert "Traceback" not in error


def test_compare_argparse_errors_exit_2(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["compare", "--epochs", "0"])

    assert exit_info.value.code == 2
    assert "expected a whole number >= 1, got '0'" in capsys.readouterr().err


def test_compare_missing_dataset_message(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("LABKIT_DATA_DIR", raising=False)

    code = main(["compare", "--dataset", "cifar10", "--offline", "--data-dir", str(tmp_path),
                 "--out", str(tmp_path / "out")])

    error = capsys.readouterr().err
    assert code == 2
    assert "cifar-10-python.tar.gz" in error
    assert "Traceback" not in error


def test_compare_writes_files_and_summary(tmp_path, capsys, fashion_available):
    out = tmp_path / "out"

    code = main(["compare", "--optimizers", "sgd,adam", *TINY_ARGS, "--epochs", "2",
                 "--set", "adam.learning_rate=0.003", "--out", str(out)])

    printed = capsys.readouterr().out
    assert code == 0
    assert "sgd min / mean / max" in printed
    assert "validation accuracy" in printed
    history = pd.read_csv(out / "history.csv")
    assert len(history) == 4
    summary = pd.read_csv(out / "summary.csv")
    assert set(summary["optimizer"]) == {"sgd", "adam"}
    assert (out / "config.json").exists()

    assert main(["summary", str(out)]) == 0
    assert "adam min / mean / max" in capsys.readouterr().out


def test_compare_falls_back_to_fashion_mnist(tmp_path, monkeypatch, fashion_available):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    args = [a for a in TINY_ARGS if a != "fashion_mnist"]
    args.remove("--dataset")

    result = _labkit("compare", "--optimizers", "sgd", *args, "--epochs", "1",
                     "--dataset", "cifar10", "--fallback-dataset", "fashion_mnist",
                     "--data-dir", str(tmp_path), "--out", str(tmp_path / "out"),
                     env={"KERAS_HOME": str(tmp_path / "keras")})

    assert result.returncode == 0, result.stderr
    assert "runs on fashion_mnist instead" in result.stderr
    assert "sgd min / mean / max" in result.stdout


def test_summary_without_folder_message(capsys):
    assert main(["summary"]) == 2
    assert "Name a comparison" in capsys.readouterr().err


def test_optimizers_lists_entries(capsys):
    assert main(["optimizers"]) == 0
    listing = capsys.readouterr().out
    for name in ("sgd", "momentum", "nesterov", "adam", "adagrad", "rmsprop"):
        assert name in listing

    assert main(["optimizers", "adam"]) == 0
    detail = capsys.readouterr().out
    assert "learning_rate" in detail
    assert "keras2017" in detail


def _epochs_in(database):
    try:
        with sqlite3.connect(database, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM labkit_epochs").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_kill_9_then_resume_keeps_each_epoch_once(tmp_path, fashion_available):
    out = tmp_path / "out"
    command = [sys.executable, "-m", "labkit.cli", "compare", "--optimizers", "sgd",
               *TINY_ARGS, "--epochs", "40", "--out", str(out)]
    process = subprocess.Popen(command, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 180
        while _epochs_in(out / "results.db") < 3 and time.monotonic() < deadline:
            assert process.poll() is None, "training ended before it could be killed"
            time.sleep(0.2)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
    kept = _epochs_in(out / "results.db")
    assert 3 <= kept < 40

    result = _labkit("compare", "--resume", str(out), "--offline", "--no-progress")

    assert result.returncode == 0, result.stderr
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == list(range(1, 41))
    assert "finished" in result.stdout
