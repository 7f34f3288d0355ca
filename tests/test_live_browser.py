"""End-to-end test of the live dashboard in a real browser.

Voila serves `notebooks/explore.ipynb` with tiny settings on 127.0.0.1, and
headless Chromium opens it. The test reads the per-batch data source from
the browser's own BokehJS document while training runs, so it proves that
points reach the page during training and not only at its end. Chromium
resolves no host name except 127.0.0.1, so the page must work offline.
"""

import os
import pathlib
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "explore.ipynb"
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
BATCH_SOURCE = "labkit-batches-sgd-0"

# One optimizer, 1,800 training images in batches of 16: 113 steps per
# epoch, 678 in all. On a 2-core CPU that took 6 to 18 s.
TRAIN_SIZE = 2000
VALIDATION = 0.1
BATCH_SIZE = 16
EPOCHS = 6
STEPS_PER_EPOCH = -(-int(TRAIN_SIZE * (1 - VALIDATION)) // BATCH_SIZE)

# Voila 0.5's lab template links Font Awesome from jsDelivr. Offline those
# requests fail, and the page works without them. Any other request that
# leaves 127.0.0.1 fails the test.
VOILA_CDN_STYLESHEETS = (
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@%5E5/css/all.min.css",
    "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@%5E5/css/v4-shims.min.css",
)

SERVER_START_TIMEOUT_S = 60
TRAINING_TIMEOUT_S = 240
POLL_INTERVAL_S = 0.25
SUMMARY_TIMEOUT_S = 60

# Returns the number of points in the named data source of any BokehJS
# document on the page, or null before the document exists.
COUNT_POINTS_JS = """
const name = arguments[0];
if (typeof Bokeh === "undefined" || Bokeh.documents === undefined) {
    return null;
}
for (const doc of Bokeh.documents) {
    const source = doc.get_model_by_name(name);
    if (source !== null) {
        return source.get_length();
    }
}
return null;
"""

MESSAGE_JS = """
const element = document.querySelector(".labkit-message");
return element === null ? null : element.innerText;
"""


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _prepare_notebook(tmp_path):
    import papermill

    path = tmp_path / "explore.ipynb"
    papermill.execute_notebook(
        str(NOTEBOOK),
        str(path),
        parameters={
            "dataset": "fashion_mnist",
            "model": "mlp",
            "train_size": TRAIN_SIZE,
            "validation": VALIDATION,
            "download": False,
            "optimizers": ["sgd"],
            "epochs": EPOCHS,
            "batch_size": BATCH_SIZE,
            "output_dir": str(tmp_path / "runs"),
            "wait_timeout_s": TRAINING_TIMEOUT_S,
        },
        prepare_only=True,
        kernel_name="python3",
        progress_bar=False,
    )
    return path


def _wait_for_server(url, process, log_path):
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(
                f"Voila exited with code {process.returncode}; its log:\n{log_path.read_text()}"
            )
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    raise AssertionError(
        f"Voila did not answer at {url} within {SERVER_START_TIMEOUT_S} s; its log:\n"
        f"{log_path.read_text()}"
    )


@pytest.fixture
def voila_url(tmp_path, fashion_available):
    """Serve the prepared notebook with Voila; stop the server afterwards."""
    notebook = _prepare_notebook(tmp_path)
    port = _free_port()
    log_path = tmp_path / "voila.log"
    env = {**os.environ, "LABKIT_OFFLINE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    command = [
        sys.executable, "-m", "voila", str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        # Progressive rendering runs the cells from the page, so outputs and
        # widget updates arrive while a cell runs instead of after the last.
        "--progressive_rendering=True",
        "--show_tracebacks=True",
    ]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        url = f"http://127.0.0.1:{port}/"
        _wait_for_server(url, process, log_path)
        yield url, log_path
    finally:
        _stop_server(process)


def _child_pids(pid):
    """Return the ids of the processes whose parent is `pid` (Linux only)."""
    children = []
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            # The fields after the command name, which ends with ")", start
            # with the state and the parent's id.
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            children.append(int(stat.parent.name))
    return children


def _stop_server(process):
    """Stop Voila, and kill its kernels if Voila did not shut them down."""
    # jupyter_client starts each kernel in a session of its own, so a kernel
    # outlives a killed Voila. Its id is taken while Voila is its parent.
    kernels = _child_pids(process.pid)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)
    for pid in kernels:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def browser(tmp_path):
    """A headless Chromium that resolves no host name except 127.0.0.1."""
    for path in (CHROMIUM, CHROMEDRIVER):
        if not os.access(path, os.X_OK):
            pytest.skip(f"{path} is missing; install the Debian packages chromium and chromium-driver")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    from labkit.export._browser import CHROME_ARGUMENTS

    for argument in (
        *CHROME_ARGUMENTS,
        "--window-size=1400,1600",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
        # Any request to another host fails at once instead of waiting for
        # a network that is not there.
        "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


def _page_state(driver):
    return driver.execute_script(COUNT_POINTS_JS, BATCH_SOURCE), driver.execute_script(MESSAGE_JS)


def _external_requests(driver):
    names = driver.execute_script(
        "return performance.getEntriesByType('resource').map(entry => entry.name);"
    )
    local = ("http://127.0.0.1", "data:", "blob:")
    return [name for name in names if not name.startswith(local) and name not in VOILA_CDN_STYLESHEETS]


@pytest.mark.slow
def test_batch_points_stream_during_training(voila_url, browser, tmp_path):
    url, log_path = voila_url
    browser.get(url)

    samples = []  # (seconds since load, points, message), while training runs
    started = time.monotonic()
    deadline = started + TRAINING_TIMEOUT_S
    message = None
    while time.monotonic() < deadline:
        points, message = _page_state(browser)
        if message is not None and ("ended" in message or "failed" in message):
            break
        if points:
            samples.append((round(time.monotonic() - started, 2), points, message))
        time.sleep(POLL_INTERVAL_S)
    final_points, message = _page_state(browser)
    # The dashboard's own table reads "sgd min / mean / max" too, so the
    # summary cell has rendered once the text appears twice.
    summary_deadline = time.monotonic() + SUMMARY_TIMEOUT_S
    page_text = browser.find_element("tag name", "body").text
    while page_text.count("sgd min / mean / max") < 2 and time.monotonic() < summary_deadline:
        time.sleep(POLL_INTERVAL_S)
        page_text = browser.find_element("tag name", "body").text
    screenshot = tmp_path / "live-dashboard.png"
    browser.save_screenshot(str(screenshot))
    print(f"screenshot: {screenshot}")
    print(f"samples during training (s, points, message): {samples}")
    browser_log = "\n".join(entry["message"] for entry in browser.get_log("browser"))

    context = f"message={message!r}\nbrowser log:\n{browser_log}\nVoila log:\n{log_path.read_text()}"
    assert message is not None and message.startswith("Comparison ended: 1 finished"), context
    total_points = EPOCHS * STEPS_PER_EPOCH
    partial = sorted({points for _, points, _ in samples if points < total_points})
    assert len(partial) >= 2, f"fewer than two partial sizes sampled during training: {samples}\n{context}"
    assert [points for _, points, _ in samples] == sorted(points for _, points, _ in samples)
    assert final_points == total_points
    assert _external_requests(browser) == []

    assert page_text.count("sgd min / mean / max") == 2
    assert page_text.count("training loss") == 2
