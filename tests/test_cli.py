"""Tests of the `labkit` command, run as a user runs it."""

import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time

import pandas as pd
import pytest

from labkit.cli import _ProgressSink, main, parse_settings
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
    assert "downloads are off (--offline)" in result.stderr
    assert "could not be downloaded" not in result.stderr
    assert result.stdout.startswith("Comparison ")
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


def test_app_command_hands_over_arguments(capsys, tmp_path):
    with pytest.raises(SystemExit):
        main(["--help"])
    listed = capsys.readouterr().out

    rejected = _labkit("app", "--max-epochs", "-3", "--port", "0", "--state-dir", str(tmp_path))

    assert " app " in listed
    assert rejected.returncode == 2
    assert "max_epochs must be an integer >= 1" in rejected.stderr
    assert "-3" in rejected.stderr


FASHION_DIR = "/usr/share/datasets/fashion-mnist"


def _help(capsys, *command):
    with pytest.raises(SystemExit):
        main([*command, "--help"])
    return capsys.readouterr().out


def test_datasets_not_listing_fashion_folder_for_mnist(capsys, monkeypatch, tmp_path,
                                                       fashion_available):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("LABKIT_DATA_DIR", FASHION_DIR)

    assert main(["datasets"]) == 0
    lines = dict(line.split(None, 1) for line in capsys.readouterr().out.splitlines())

    assert lines["fashion_mnist"] == FASHION_DIR
    assert FASHION_DIR not in lines["mnist"]


def test_compare_mnist_on_fashion_folder_exits_2(capsys, monkeypatch, tmp_path,
                                                 fashion_available):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("LABKIT_DATA_DIR", FASHION_DIR)
    args = ["--dataset" if a == "--dataset" else a for a in TINY_ARGS]
    args[args.index("fashion_mnist")] = "mnist"

    code = main(["compare", *args, "--out", str(tmp_path / "out")])

    error = capsys.readouterr().err
    assert code == 2
    assert "are fashion_mnist, not mnist" in error
    assert "train-labels-idx1-ubyte.gz" in error
    assert "put mnist.npz" in error
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("value", ["1", "true", "ON"])
def test_datasets_offline_env_message(value, capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.setenv("LABKIT_OFFLINE", value)

    assert main(["datasets", "--data-dir", str(tmp_path)]) == 0
    listing = capsys.readouterr().out

    assert "download will be tried" not in listing
    assert f"cifar10        not found, and downloads are off (LABKIT_OFFLINE={value})" \
        in listing


def test_offline_env_unknown_value_exits_2(capsys, monkeypatch):
    monkeypatch.setenv("LABKIT_OFFLINE", "maybe")

    assert main(["datasets"]) == 2
    error = " ".join(capsys.readouterr().err.split())

    assert "Received: LABKIT_OFFLINE='maybe'" in error
    assert "one of 1, true, yes, on" in error


def test_help_names_offline_env_and_data_dir_env(capsys):
    compare_help = " ".join(_help(capsys, "compare").split())
    datasets_help = " ".join(_help(capsys, "datasets").split())

    assert "LABKIT_OFFLINE=1 (or true, yes, on, in any case)" in compare_help
    assert "List each dataset with the file or folder" in datasets_help
    assert "LABKIT_OFFLINE is 1, true, yes or on" in datasets_help
    assert "(default: the folder in LABKIT_DATA_DIR, if set)" in datasets_help


def test_fallback_missing_too_names_both_fixes(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("LABKIT_DATA_DIR", raising=False)

    code = main(["compare", "--dataset", "cifar10", "--fallback-dataset", "mnist",
                 "--offline", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")])

    error = capsys.readouterr().err
    assert code == 2
    assert "Neither cifar10 nor the fallback dataset mnist is available." in error
    assert "instead" not in error
    assert "put cifar-10-python.tar.gz" in error
    assert "put mnist.npz" in error


def test_corrupt_cifar_with_fallback_explains(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"not a tar archive")

    code = main(["compare", "--dataset", "cifar10", "--fallback-dataset", "fashion_mnist",
                 "--offline", "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")])

    error = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "cifar-10-python.tar.gz" in error
    assert "--fallback-dataset fashion_mnist applies only when cifar10 is absent" in error
    assert "Remove or replace the damaged file" in error


def test_download_message_goes_to_stderr(capsys, monkeypatch, tmp_path):
    import keras
    import numpy as np
    from keras.src.utils import io_utils

    def fake_download():
        io_utils.print_msg("Downloading data from https://example.invalid/mnist.npz")
        rng = np.random.default_rng(0)
        images = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
        labels = np.arange(60) % 10
        return (images, labels), (images[:20], labels[:20])

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    monkeypatch.delenv("LABKIT_OFFLINE", raising=False)
    monkeypatch.setattr(keras.datasets.mnist, "load_data", fake_download)

    code = main(["compare", "--optimizers", "sgd", "--dataset", "mnist", "--model", "mlp",
                 "--model-option", "hidden_units=8", "--validation", "none",
                 "--no-augmentation", "--no-progress", "--epochs", "1",
                 "--data-dir", str(tmp_path), "--out", str(tmp_path / "out")])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.out.startswith("Comparison ")
    assert "Downloading data from" in captured.err
    assert "Downloading" not in captured.out


def test_progress_stopped_line_goes_to_stderr(capsys):
    class Run:
        class config:
            optimizer, seed = "sgd", 0

    _ProgressSink().on_run_end(Run, "stopped", "Interrupted.")

    captured = capsys.readouterr()
    assert captured.out == ""
    assert "sgd seed 0: stopped. Interrupted." in captured.err


def test_verbose_shows_native_lines_once(tmp_path):
    result = _labkit("compare", "-v", "--validation", "2.5", "--out", str(tmp_path / "out"),
                     env={"TF_CPP_MIN_LOG_LEVEL": "0"})

    lines = [re.sub(r"^[IWEF]\d{4} [\d:.]+\s+\d+ ", "", line)
             for line in result.stderr.splitlines()]
    assert result.returncode == 2
    assert any("absl::InitializeLog()" in line for line in lines)
    assert len(lines) == len(set(lines))


def test_compare_help_shows_each_default_once(capsys):
    text = _help(capsys, "compare")
    options = re.split(r"\n  (?=-)", text)

    for option in options:
        assert option.count("(default:") <= 1, option
    assert "default: None" not in text
    assert "default: False" not in text
    assert "['" not in text
    assert "(default: sgd,adam,adagrad)" in " ".join(text.split())


def test_model_option_help_names_model(capsys):
    text = " ".join(_help(capsys, "compare").split())

    assert "width=0.5 (cifar10_cnn only)" in text


def test_validation_error_uses_cli_spelling(capsys, tmp_path):
    code = main(["compare", *TINY_ARGS, "--validation", "2.5", "--out", str(tmp_path)])

    error = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert "'none' (no validation set)" in error
    assert "None (no validation set)" not in error
    assert "Received: --validation 2.5" in error


def test_summary_missing_store_file_creates_nothing(capsys, tmp_path):
    missing = tmp_path / "missing.db"

    code = main(["summary", "--store", str(missing)])

    error = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert f"The results store file {missing} does not exist" in error
    assert not missing.exists()


def test_summary_folder_without_results_db_creates_nothing(capsys, tmp_path,
                                                           fashion_available):
    out = tmp_path / "out"
    assert main(["compare", "--optimizers", "sgd", *TINY_ARGS, "--epochs", "1",
                 "--out", str(out)]) == 0
    database = out / "results.db"
    database.unlink()
    capsys.readouterr()

    code = main(["summary", str(out)])

    error = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert f"{database}, named in {out / 'config.json'}, does not exist" in error
    assert not database.exists()


def _closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize(
    "url",
    [
        "not a url::",
        "nosuchdb://x/y",
        "postgresql://labkit@127.0.0.1:{port}/labkit",
        "sqlite:///{tmp}/no/such/folder/results.db",
        "mysql://labkit@127.0.0.1:{port}/labkit",
    ],
)
def test_bad_store_leaves_no_out_folder(url, capsys, tmp_path, fashion_available):
    url = url.format(port=_closed_port(), tmp=tmp_path)
    out = tmp_path / "runs" / "out"

    code = main(["compare", "--optimizers", "sgd", *TINY_ARGS, "--epochs", "1",
                 "--store", url, "--out", str(out)])

    error = capsys.readouterr().err
    assert code == 2
    assert "results store" in error
    assert not out.exists()
    assert not out.parent.exists()


def test_resume_warns_about_ignored_options(capsys, caplog, tmp_path, fashion_available):
    out = tmp_path / "out"
    assert main(["compare", "--optimizers", "sgd", *TINY_ARGS, "--epochs", "1",
                 "--out", str(out)]) == 0
    capsys.readouterr()

    code = main(["compare", "--resume", str(out), "--epochs", "5", "--optimizers", "lion",
                 "--no-progress", "--offline"])

    captured = capsys.readouterr()
    error = " ".join(captured.err.split())
    assert code == 0
    assert "so these options are ignored: --optimizers, --epochs." in error
    assert f"settings stored in {out / 'config.json'}" in error
    # The runner logs this line; the command shows it through logging.
    assert "Nothing left to train" in caplog.text
    assert captured.out.startswith("Comparison ")
