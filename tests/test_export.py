"""Tests of the export of a comparison, on a tiny real comparison."""

import base64
import hashlib
import io
import json
import math
import os
import re
import subprocess
import sys
import zipfile
import xml.etree.ElementTree as ElementTree

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from labkit import stats
from labkit.cli import main
from labkit.errors import ConfigError
from labkit.export import ExportPanel, check_name, export_comparison, safe_name
from labkit.live._figures import optimizer_styles
from labkit.plots import study_figures

OPTIMIZERS = ("sgd", "adam")
WIDTH, HEIGHT, SCALE = 500, 320, 2
SVG = "{http://www.w3.org/2000/svg}"
INSTALL = "apt-get install chromium chromium-driver"


@pytest.fixture(scope="module")
def comparison(tmp_path_factory, fashion_available):
    from labkit.training import compare

    folder = tmp_path_factory.mktemp("comparison") / "run"
    return compare(
        list(OPTIMIZERS),
        dataset="fashion_mnist",
        output_dir=folder,
        download=False,
        seeds=[0, 1],
        model="mlp",
        model_options={"hidden_units": [16]},
        epochs=2,
        batch_size=32,
        augmentation=False,
        validation=0.25,
        train_size=200,
    )


@pytest.fixture(scope="module")
def exported(comparison, tmp_path_factory):
    out = tmp_path_factory.mktemp("exports") / "paper"
    return export_comparison(
        comparison.output_dir, out, name="tiny", width=WIDTH, height=HEIGHT, scale=SCALE,
    )


def _files(exported, suffix):
    return [path for name, path in exported.files.items() if name.endswith(suffix)]


def _rgb(hex_colour):
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


# -- figures ------------------------------------------------------------------


def test_export_writes_every_format(exported):
    assert exported.errors == {}
    assert exported.notice is None
    assert sorted(exported.files) == sorted([
        "tiny.html", "tiny-summary.csv", "tiny-history.csv", "tiny-summary.md",
        "tiny-summary.tex", "tiny-history.json", "tiny-manifest.json",
        *(f"tiny-{key}.{ext}" for ext in ("png", "svg") for key in ("time", "loss", "accuracy")),
    ])


def test_png_size_and_optimizer_colours(exported):
    pngs = _files(exported, ".png")
    colours = {name: _rgb(colour) for name, (colour, _) in optimizer_styles(OPTIMIZERS).items()}

    assert len(pngs) == 3
    for path in pngs:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.size == (WIDTH * SCALE, HEIGHT * SCALE)
            pixels = np.asarray(image.convert("RGB")).reshape(-1, 3).astype(int)
        for optimizer, colour in colours.items():
            close = np.abs(pixels - colour).sum(axis=1) <= 24
            assert close.sum() > 50, f"{path.name} has no pixels of {optimizer}'s colour {colour}"


def test_svg_is_vector_with_legend(exported):
    svgs = _files(exported, ".svg")

    assert len(svgs) == 3
    for path in svgs:
        root = ElementTree.parse(path).getroot()
        texts = {element.text for element in root.iter(f"{SVG}text")}
        assert root.tag == f"{SVG}svg"
        assert len(list(root.iter(f"{SVG}path"))) > 5
        assert list(root.iter(f"{SVG}image")) == []
        assert "<image" not in path.read_text()
        assert "epoch" in texts
        for optimizer in OPTIMIZERS:
            assert any(text and text.startswith(optimizer) for text in texts), path.name
    loss_texts = {e.text for e in ElementTree.parse(_files(exported, "loss.svg")[0]).iter(f"{SVG}text")}
    assert {"sgd training", "sgd validation", "adam training", "adam validation"} <= loss_texts


def test_html_offline_and_contains_data(exported, comparison):
    page = (exported.folder / "tiny.html").read_text()
    summary = stats.summarize(comparison.history)
    sgd_loss = summary[(summary["optimizer"] == "sgd") & (summary["metric"] == "loss")].iloc[0]

    assert re.search(r"<script[^>]*\bsrc\s*=\s*[\"']?https?:", page, re.IGNORECASE) is None
    assert re.search(r"<link[^>]*\bhref\s*=\s*[\"']?https?:", page, re.IGNORECASE) is None
    assert "Bokeh" in page
    assert "sgd training" in page
    assert "adam validation" in page
    assert f"{sgd_loss['mean']:.4f}" in page


def test_figures_skip_missing_validation(comparison):
    history = comparison.history.copy()
    history.loc[history["optimizer"] == "adam", ["val_loss", "val_accuracy"]] = math.nan
    history.loc[history.index[0], "loss"] = math.inf

    figures = study_figures(history)
    labels = [item.label.value for item in figures["loss"].legend[0].items]

    assert labels == ["sgd training", "adam training", "sgd validation"]
    for fig in figures.values():
        assert fig.toolbar_location is None
        assert fig.output_backend == "svg"
        for bound in (fig.x_range.start, fig.x_range.end, fig.y_range.start, fig.y_range.end):
            assert math.isfinite(bound)


def test_figures_all_nan_finite_ranges(comparison):
    history = comparison.history.copy()
    history[["loss", "val_loss"]] = math.nan

    loss = study_figures(history)["loss"]

    assert loss.legend[0].items == []
    assert (loss.y_range.start, loss.y_range.end) == (0, 1)


# -- tables and data ----------------------------------------------------------


def test_latex_table_has_booktabs_rows(exported, comparison):
    latex = (exported.folder / "tiny-summary.tex").read_text()
    body = latex.split("\\midrule", 1)[1].split("\\bottomrule", 1)[0]
    rows = [line for line in body.strip().splitlines() if line.strip()]
    summary = stats.summarize(comparison.history)

    assert "\\toprule" in latex
    assert "\\midrule" in latex
    assert "\\bottomrule" in latex
    assert "\\hline" not in latex
    assert len(rows) == len(summary) == len(OPTIMIZERS) * 5
    assert all(row.endswith("\\\\") for row in rows)
    assert rows[0].startswith("sgd & time per epoch (s) & ")


def test_markdown_and_csv_parse(exported):
    markdown = (exported.folder / "tiny-summary.md").read_text().strip().splitlines()
    summary = pd.read_csv(exported.folder / "tiny-summary.csv")
    history = pd.read_csv(exported.folder / "tiny-history.csv")
    records = json.loads((exported.folder / "tiny-history.json").read_text())

    assert all(line.startswith("|") and line.endswith("|") for line in markdown)
    assert len({line.count("|") for line in markdown}) == 1
    assert len(markdown) == 2 + len(summary)
    assert "Final std" in markdown[0]
    assert list(summary.columns) == list(stats.SUMMARY_COLUMNS)
    assert len(history) == len(OPTIMIZERS) * 2 * 2
    assert len(records) == len(history)
    assert records[0]["test_loss"] is None
    assert isinstance(records[0]["val_loss"], float)


def test_markdown_rounds_by_metric(exported):
    markdown = (exported.folder / "tiny-summary.md").read_text()
    time_row = next(line for line in markdown.splitlines() if "time per epoch" in line)
    loss_row = next(line for line in markdown.splitlines() if "| training loss" in line)

    assert all(re.fullmatch(r"\d+\.\d", cell.strip()) for cell in time_row.split("|")[3:6])
    assert all(re.fullmatch(r"\d+\.\d{4}", cell.strip()) for cell in loss_row.split("|")[3:6])


def test_stored_export_matches_summary(exported, comparison):
    written = pd.read_csv(exported.folder / "tiny-summary.csv")
    stored = pd.read_csv(comparison.output_dir / "summary.csv")
    expected = comparison.summary()

    for frame in (stored, expected):
        assert list(written["optimizer"]) == list(frame["optimizer"])
        assert list(written["metric"]) == list(frame["metric"])
        for column in ("min", "mean", "max", "final_mean", "final_std", "best_mean", "best_std"):
            np.testing.assert_allclose(written[column], frame[column].astype(float), rtol=1e-12)


def test_manifest_records_environment_and_files(exported, comparison):
    manifest = exported.manifest
    listed = {item["name"]: item for item in manifest["files"]}

    assert manifest["comparison_id"] == comparison.comparison_id
    assert manifest["seeds"] == [0, 1]
    for key in ("labkit", "keras", "backend", "tensorflow", "devices"):
        assert manifest["training_environment"][key], key
    assert manifest["training_environment"]["backend"] == "tensorflow"
    assert len(manifest["runs"]) == 4
    assert manifest["runs"][0]["config"]["model"] == "mlp"
    assert "learning_rate" in manifest["runs"][0]["effective_hyperparameters"]
    assert manifest["dataset"]["name"] == "fashion_mnist"
    assert all(len(item["sha256"]) == 64 for item in manifest["dataset"]["files"])
    assert set(listed) == set(exported.files) - {"tiny-manifest.json"}
    for name, item in listed.items():
        content = (exported.folder / name).read_bytes()
        assert item["sha256"] == hashlib.sha256(content).hexdigest(), name
        assert item["bytes"] == len(content)


# -- names, folders and errors ------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["", "..", "../evil", "a/../../b", "/etc/passwd", "sub/name", "back\\slash",
     ".hidden", "-flag", "a..b", "x" * 101, "tab\tname", "name/"],
)
def test_check_name_rejects_paths(name):
    with pytest.raises(ConfigError, match="plain file name"):
        check_name(name)


def test_bad_name_writes_nothing(comparison, tmp_path):
    with pytest.raises(ConfigError, match=r"Received: name='\.\./escape'"):
        export_comparison(comparison, tmp_path / "out", name="../escape", formats="csv")

    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text", ["../../etc/passwd", "/abs/path", "..", "", "sgd vs adam"])
def test_safe_name_stays_in_folder(text):
    name = safe_name(text)

    check_name(name)
    assert "/" not in name
    assert ".." not in name


def test_existing_folder_gets_new_one(comparison, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "tiny-summary.csv").write_text("keep me\n")

    result = export_comparison(comparison, out, name="tiny", formats="csv")

    assert result.folder == tmp_path / "out-2"
    assert "out exists already" in result.notice
    assert (out / "tiny-summary.csv").read_text() == "keep me\n"
    assert (result.folder / "tiny-summary.csv").exists()


def test_no_browser_keeps_other_formats(comparison, tmp_path):
    result = export_comparison(
        comparison, tmp_path / "out", name="tiny", formats="png,svg,html,csv,latex",
        browser=str(tmp_path / "missing-chromium"),
    )

    assert set(result.errors) == {"png", "svg"}
    for message in result.errors.values():
        assert INSTALL in message
        assert "missing-chromium" in message
    assert (result.folder / "tiny.html").exists()
    assert (result.folder / "tiny-summary.csv").exists()
    assert (result.folder / "tiny-summary.tex").exists()
    assert (result.folder / "tiny-manifest.json").exists()
    assert not list(result.folder.glob("*.png"))
    assert result.manifest["export"]["errors"] == result.errors


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"formats": "png,gif"}, "Unknown export format 'gif'. Known formats: png, svg"),
        ({"formats": ""}, "Choose at least one export format"),
        ({"width": 10}, "`width` must be an integer from 200 to 4000. Received: width=10"),
        ({"height": 1.5}, "`height` must be an integer"),
        ({"font_size": 0}, "`font_size` must be a number from 6 to 40. Received: font_size=0"),
        ({"scale": 20}, "`scale` must be a number from 0.5 to 8. Received: scale=20"),
        ({"scale": math.nan}, "`scale` must be a number"),
        ({"font": "x;}<script>"}, "plain font family"),
    ],
)
def test_export_bad_option_message(comparison, tmp_path, kwargs, expected):
    with pytest.raises(ConfigError) as error:
        export_comparison(comparison, tmp_path / "out", **kwargs)

    assert expected in str(error.value)
    assert not (tmp_path / "out").exists()


def test_export_missing_or_foreign_folder(tmp_path):
    with pytest.raises(ConfigError, match="does not exist or is not a folder"):
        export_comparison(tmp_path / "nowhere")
    with pytest.raises(ConfigError, match="contains no labkit comparison"):
        export_comparison(tmp_path)


# -- panel ----------------------------------------------------------------------


def test_panel_offers_one_zip(comparison, tmp_path):
    panel = ExportPanel(comparison, tmp_path / "panel")
    for name, box in panel.formats.items():
        box.value = name in ("csv", "markdown")
    panel.name.value = "tiny"

    panel.button.click()
    link = re.search(r'href="data:application/zip;base64,([^"]+)"', panel.download.value)
    archive = zipfile.ZipFile(io.BytesIO(base64.b64decode(link.group(1))))

    assert not panel.button.disabled
    assert 'download="panel.zip"' in panel.download.value
    assert sorted(archive.namelist()) == [
        "panel/tiny-history.csv", "panel/tiny-manifest.json",
        "panel/tiny-summary.csv", "panel/tiny-summary.md",
    ]
    assert "Wrote 4 files" in panel.status.value


def test_panel_shows_error_and_reenables(comparison, tmp_path):
    panel = ExportPanel(comparison, tmp_path / "panel")
    panel.name.value = "../escape"

    panel.button.click()

    assert not panel.button.disabled
    assert "plain file name" in panel.status.value
    assert panel.download.value == ""
    assert not (tmp_path / "panel").exists()


# -- command line ---------------------------------------------------------------


def test_cli_export_end_to_end(comparison, tmp_path):
    out = tmp_path / "cli"
    completed = subprocess.run(
        [sys.executable, "-m", "labkit.cli", "export", str(comparison.output_dir),
         "--out", str(out), "--formats", "csv,md,json,svg", "--name", "cli", "--zip"],
        capture_output=True, text=True, timeout=300,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"},
    )

    assert completed.returncode == 0, completed.stderr
    assert f"Exported 8 files to {out}" in completed.stdout
    assert (out / "cli-loss.svg").exists()
    assert (out / "cli-summary.md").exists()
    assert zipfile.ZipFile(tmp_path / "cli.zip").namelist()[0].startswith("cli/")


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--formats", "gif"], "Unknown export format 'gif'"),
        (["--width", "50"], "`width` must be an integer from 200 to 4000"),
        (["--scale", "9"], "`scale` must be a number from 0.5 to 8"),
        (["--name", "../x"], "Received: name='../x'"),
    ],
)
def test_cli_export_bad_input_exits_2(comparison, tmp_path, capsys, args, expected):
    code = main(["export", str(comparison.output_dir), "--out", str(tmp_path / "x"), *args])

    error = " ".join(capsys.readouterr().err.split())
    assert code == 2
    assert expected in error
    assert "Traceback" not in error


def test_cli_export_missing_folder_exits_2(tmp_path, capsys):
    code = main(["export", str(tmp_path / "nowhere")])

    assert code == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_export_no_browser_exits_1(comparison, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LABKIT_CHROMIUM", str(tmp_path / "missing-chromium"))

    code = main(["export", str(comparison.output_dir), "--out", str(tmp_path / "x"),
                 "--formats", "png,csv"])

    captured = capsys.readouterr()
    assert code == 1
    assert INSTALL in " ".join(captured.err.split())
    assert "summary.csv" in captured.out


def test_legend_corner_follows_late_epochs():
    from labkit.plots import _legend_corner, _padded_range

    epochs = [1.0, 2.0, 3.0, 4.0]
    rising = [0.5, 0.8, 0.85, 0.9]
    falling = [1.3, 0.6, 0.5, 0.45]

    assert _legend_corner(epochs, rising) == "bottom"
    assert _legend_corner(epochs, falling) == "top"
    accuracy_axis = _padded_range(rising, floor=0, reserve=0.4, reserve_at="bottom")
    assert accuracy_axis.end < 1
    assert accuracy_axis.start >= 0
    loss_axis = _padded_range(falling, reserve=0.4, reserve_at="top")
    assert loss_axis.end > 1.3


def test_panel_without_folder_ignores_typed_path(comparison, tmp_path):
    fixed = tmp_path / "fixed"
    panel = ExportPanel(comparison, fixed, allow_folder=False, browser=str(tmp_path / "missing-chromium"))
    panel.out.value = str(tmp_path / "student" / ".." / "escaped")
    for name in ("png", "svg", "html", "markdown", "latex", "json"):
        panel.formats[name].value = False

    panel.button.click()

    assert panel.result is not None
    assert panel.result.folder == fixed
    assert not (tmp_path / "escaped").exists()
    assert not (tmp_path / "student").exists()
    assert str(tmp_path) not in panel.status.value


def test_png_pixel_limit_rejected(comparison, tmp_path):
    with pytest.raises(ConfigError, match="32000 pixels is more than the 8000"):
        export_comparison(comparison, tmp_path / "huge", formats="png", width=4000, height=4000, scale=8)

    assert not (tmp_path / "huge").exists()
