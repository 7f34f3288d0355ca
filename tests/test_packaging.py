"""Tests that the package metadata, the conda environment and the README agree."""

import pathlib
import re
import tomllib

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _requirement_name(text):
    name = re.split(r"[<>=!~\[ ]", text.strip(), maxsplit=1)[0]
    return name.lower().replace("_", "-")


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def test_environment_matches_pyproject():
    project = _pyproject()["project"]
    declared = {_requirement_name(item): item for item in project["dependencies"]}
    declared.update({_requirement_name(item): item for item in project["optional-dependencies"]["test"]})
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())
    listed = {
        _requirement_name(item): item
        for item in conda["dependencies"]
        if isinstance(item, str) and _requirement_name(item) not in ("python", "pip")
    }

    assert set(listed) == set(declared)
    for name, requirement in declared.items():
        version = re.sub(r"^[^<>=!~]*(\[[^\]]*\])?", "", requirement).strip()
        assert version in listed[name], f"{name}: pyproject {requirement!r}, conda {listed[name]!r}"


def test_console_command_declared():
    assert _pyproject()["project"]["scripts"]["labkit"] == "labkit.cli:main"


def test_ci_runs_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()

    assert "bash .ci/test" in readme
    assert "bash .ci/test" in ci


def test_labkit_calls_keras_not_tensorflow():
    offenders = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "labkit").rglob("*.py")
        if re.search(r"^\s*(import tensorflow|from tensorflow)", path.read_text(), re.MULTILINE)
    ]

    assert offenders == []
