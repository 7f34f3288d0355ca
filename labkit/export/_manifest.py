"""The manifest: what an export contains and what produced its numbers."""

import datetime
import hashlib
import importlib.metadata
import platform


def sha256_file(path):
    """Return the hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _version(package):
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


def _exporter():
    return {
        "labkit": _version("labkit"),
        "bokeh": _version("bokeh"),
        "pandas": _version("pandas"),
        "selenium": _version("selenium"),
        "python": platform.python_version(),
        "exported_at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def _runs(comparison):
    runs = []
    for run in comparison.result.runs:
        runs.append({
            "id": run["id"],
            "optimizer": run["optimizer"],
            "seed": run["seed"],
            "status": run["status"],
            "message": run["message"],
            "config": comparison.run_configs.get(run["id"]),
            "effective_hyperparameters": run["hyperparameters"],
        })
    return runs


def build_manifest(comparison, options, files, errors, browser):
    """Return the manifest of an export as a JSON-serialisable dict.

    Args:
        comparison: The exported `StoredComparison`.
        options: The `ExportOptions` used.
        files: Mapping from file name to its path, every file written.
        errors: Mapping from format to the message of its failure.
        browser: `(browser path, driver path)` that drew PNG and SVG, or None.
    """
    result = comparison.result
    environment = comparison.environment
    dataset = comparison.data
    return {
        "comparison_id": result.comparison_id,
        "name": comparison.name,
        "training_environment": {
            "labkit": environment.get("labkit"),
            "keras": environment.get("keras"),
            "backend": environment.get("backend"),
            "tensorflow": environment.get("tensorflow"),
            "python": environment.get("python"),
            "platform": environment.get("platform"),
            "devices": environment.get("devices"),
            "accelerator": environment.get("accelerator"),
            "all": environment,
        },
        "seeds": sorted({run["seed"] for run in result.runs}),
        "optimizers": list(dict.fromkeys(run["optimizer"] for run in result.runs)),
        "runs": _runs(comparison),
        "dataset": {
            "name": dataset.get("name"),
            "source": dataset.get("source"),
            "sizes": dataset.get("sizes"),
            "files": [
                {"name": item.get("path", "").rsplit("/", 1)[-1], "sha256": item.get("sha256"),
                 "bytes": item.get("bytes")}
                for item in dataset.get("files", [])
            ],
            "all": dataset,
        },
        "export": {
            **_exporter(),
            "formats": list(options.formats),
            "width": options.style.width,
            "height": options.style.height,
            "font_size": options.style.font_size,
            "font": options.style.font,
            "scale": options.scale,
            "browser": list(browser) if browser else None,
            "errors": dict(errors),
        },
        "files": [
            {"name": name, "bytes": path.stat().st_size, "sha256": sha256_file(path)}
            for name, path in files.items()
        ],
    }
