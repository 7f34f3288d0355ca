"""Tests of the notebooks: committed clean, and run top to bottom in a kernel.

papermill injects tiny settings after each notebook's "parameters" cell and
runs every cell in a fresh kernel. Any cell that raises fails the test.
Training uses a few hundred Fashion-MNIST images and the "mlp" model.
"""

import json
import pathlib

import nbformat
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
EXPLORE = ROOT / "notebooks" / "explore.ipynb"
REPRODUCE = ROOT / "notebooks" / "reproduce_2017.ipynb"
NOTEBOOKS = (EXPLORE, REPRODUCE)

CELL_TIMEOUT_S = 600
WAIT_TIMEOUT_S = 300
TINY = {
    "model": "mlp",
    "train_size": 200,
    "epochs": 1,
    "batch_size": 32,
    "download": False,
    "wait_timeout_s": WAIT_TIMEOUT_S,
}


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """Keep the kernels offline, with an empty Keras cache and no data folder."""
    monkeypatch.setenv("LABKIT_OFFLINE", "1")
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))
    monkeypatch.setenv("TF_CPP_MIN_LOG_LEVEL", "2")
    monkeypatch.delenv("LABKIT_DATA_DIR", raising=False)


def _execute(notebook, tmp_path, parameters):
    import papermill

    return papermill.execute_notebook(
        str(notebook),
        str(tmp_path / f"executed-{notebook.name}"),
        parameters=parameters,
        kernel_name="python3",
        cwd=str(tmp_path),
        progress_bar=False,
        execution_timeout=CELL_TIMEOUT_S,
    )


def _cell_texts(cell):
    """Return the printed text and the plain-text outputs of a cell."""
    texts = []
    for output in cell.get("outputs", []):
        if output["output_type"] == "stream":
            texts.append(output["text"])
        elif "text/plain" in output.get("data", {}):
            texts.append(output["data"]["text/plain"])
    return "\n".join(texts)


def _cell_containing(notebook, code):
    matches = [cell for cell in notebook.cells if cell.cell_type == "code" and code in cell.source]
    assert len(matches) == 1, f"expected one code cell containing {code!r}, found {len(matches)}"
    return matches[0]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_committed_clean(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    tagged = [cell for cell in code_cells if "parameters" in cell.metadata.get("tags", [])]

    assert notebook.cells[0].cell_type == "markdown"
    assert notebook.cells[0].source.startswith("# ")
    assert len(tagged) == 1
    assert code_cells[0] is tagged[0]
    for cell in code_cells:
        assert cell.outputs == [], f"cell {cell.id} has outputs"
        assert cell.execution_count is None, f"cell {cell.id} has an execution count"


def test_explore_runs_tiny(tmp_path, offline, fashion_available):
    output_dir = tmp_path / "runs"
    executed = _execute(EXPLORE, tmp_path, {
        **TINY,
        "dataset": "fashion_mnist",
        "validation": 0.25,
        "optimizers": ["sgd", "adam"],
        "output_dir": str(output_dir),
    })

    summary = _cell_texts(_cell_containing(executed, "live.wait("))
    for optimizer in ("sgd", "adam"):
        assert f"{optimizer} min / mean / max" in summary
    assert summary.count("finished") == 2
    for metric in ("training loss", "training accuracy", "validation loss", "validation accuracy"):
        assert metric in summary
    assert (output_dir / "history.csv").read_text().count("\n") == 3  # header and 2 epochs
    export = _cell_containing(executed, "ExportPanel(")
    mimes = {mime for output in export.outputs for mime in output.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes


def test_reproduce_falls_back_to_fashion_mnist(tmp_path, offline, fashion_available):
    output_dir = tmp_path / "runs"
    executed = _execute(REPRODUCE, tmp_path, {**TINY, "output_dir": str(output_dir)})

    data = _cell_texts(_cell_containing(executed, "locate(dataset"))
    assert "cifar10 is not available, so this comparison uses fashion_mnist instead." in data
    assert "Dataset: fashion_mnist" in data
    assert "epochs=1 (study: 200)" in data
    assert "model='mlp' (study: 'cifar10_cnn')" in data

    table = _cell_texts(_cell_containing(executed, "compare_with_study("))
    for column in ("labkit min", "labkit mean", "labkit max", "study min", "study mean", "study max"):
        assert column in table
    assert table.count("finished") == 3
    for optimizer in ("sgd", "adam", "adagrad"):
        assert optimizer in table
    config = json.loads((output_dir / "config.json").read_text())
    assert [run["preset"] for run in config["runs"]] == ["keras2017"] * 3
    assert [run["validation"] for run in config["runs"]] == ["test"] * 3
    assert [run["augmentation"] for run in config["runs"]] == [True] * 3

    figures = _cell_containing(executed, "history_figures(")
    mimes = {mime for output in figures.outputs for mime in output.get("data", {})}
    assert "application/vnd.bokehjs_exec.v0+json" in mimes
    assert "cdn.bokeh.org" not in json.dumps(executed)


def test_explore_surfaces_training_error(tmp_path, offline):
    from papermill.exceptions import PapermillExecutionError

    # CIFAR-10 is not in the empty Keras cache and downloads are off, so
    # training fails in the background thread before its first epoch.
    with pytest.raises(PapermillExecutionError) as caught:
        _execute(EXPLORE, tmp_path, {
            **TINY,
            "dataset": "cifar10",
            "output_dir": str(tmp_path / "runs"),
        })

    assert caught.value.ename == "DatasetUnavailableError"
    assert "live.wait(" in caught.value.source
