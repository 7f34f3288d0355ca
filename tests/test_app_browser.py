"""The served app in headless Chromium: load, train, stop, reject, reload, cull.

One server (`python -m labkit.app.serve`) on a free 127.0.0.1 port and one
browser serve every test of this module, in order, because each page costs
a kernel that imports TensorFlow. Screenshots go to
`test-output/app_browser/`.

Needs /usr/bin/chromium, /usr/bin/chromedriver and Fashion-MNIST in
/usr/share/datasets/fashion-mnist; the module is skipped without them.
"""

import base64
import io
import json
import os
import pathlib
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import zipfile

import pytest

pytest.importorskip("selenium")

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.common.keys import Keys  # noqa: E402
from selenium.webdriver.support.ui import Select  # noqa: E402

from labkit.export._browser import CHROME_ARGUMENTS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
FASHION_DIR = "/usr/share/datasets/fashion-mnist"
REPO = pathlib.Path(__file__).resolve().parents[1]
SCREENSHOTS = REPO / "test-output" / "app_browser"
OWNER = "browser-test"
# A first page waits for its kernel to import TensorFlow and run the notebook.
FIRST_PAGE_TIMEOUT_S = 240
CULL_IDLE_TIMEOUT_S = 10
CULL_INTERVAL_S = 2

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)),
        reason="needs /usr/bin/chromium and /usr/bin/chromedriver",
    ),
    pytest.mark.skipif(not os.path.isdir(FASHION_DIR), reason=f"needs {FASHION_DIR}"),
]

BATCH_POINTS_JS = """
let count = 0;
for (const doc of (window.Bokeh ? Bokeh.documents : [])) {
  for (const model of doc.all_models) {
    if (model.name && model.name.startsWith('labkit-batches-')) count += model.data.x.length;
  }
}
return count;
"""


def wait_for(condition, timeout_s, message, interval_s=0.05, driver=None):
    """Return the first truthy value of `condition()`, or fail after `timeout_s`.

    With `driver`, a failure saves a screenshot and adds the page's status
    line to the message.
    """
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            break
        time.sleep(interval_s)
    if driver is not None:
        name = "failed-" + "".join(c if c.isalnum() else "-" for c in message)[:60] + ".png"
        driver.save_screenshot(str(SCREENSHOTS / name))
        statuses = [e.text for e in driver.find_elements(By.CSS_SELECTOR, ".labkit-status, .labkit-message")]
        message += f"; page status: {statuses}; screenshot {name}"
    pytest.fail(f"Timed out after {timeout_s} s: {message}")


def free_port():
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def server():
    state_dir = pathlib.Path(tempfile.mkdtemp(prefix="labkit-app-test-"))
    port = free_port()
    log_path = state_dir / "server.log"
    command = [
        "nice", "-n", "19", sys.executable, "-m", "labkit.app.serve",
        "--port", str(port), "--state-dir", str(state_dir / "state"),
        "--pool-size", "1", "--max-concurrent-trainings", "1",
        "--cull-idle-timeout", str(CULL_IDLE_TIMEOUT_S), "--cull-interval", str(CULL_INTERVAL_S),
    ]
    with open(log_path, "w") as log:
        process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_for(lambda: f"serving app.ipynb at {url}" in log_path.read_text(), 60,
                 f"the server printing its URL; log in {log_path}", interval_s=0.2)
        yield {"url": url, "state": state_dir / "state", "log": log_path, "process": process}
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser():
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in (
        *CHROME_ARGUMENTS,
        f"--user-data-dir={tempfile.mkdtemp(prefix='labkit-chromium-')}", "--window-size=1600,1500",
    ):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.requested_urls = []
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    yield driver
    driver.quit()


def collect_requests(driver):
    """Add the URLs the page requested since the last call to `driver.requested_urls`."""
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            driver.requested_urls.append(message["params"]["request"]["url"])
        elif message["method"] == "Network.webSocketCreated":
            driver.requested_urls.append(message["params"]["url"])
    return driver.requested_urls


def element(driver, css):
    return driver.find_element(By.CSS_SELECTOR, css)


def type_into(driver, css, text):
    field = element(driver, f"{css} input")
    # clear() leaves the old value in ipywidgets' number boxes.
    field.send_keys(Keys.CONTROL, "a")
    field.send_keys(Keys.DELETE)
    field.send_keys(text, Keys.ENTER)


def status_text(driver):
    return element(driver, ".labkit-status").text


def open_page(driver, url, timeout_s):
    started = time.monotonic()
    driver.get(url)
    wait_for(lambda: driver.find_elements(By.CSS_SELECTOR, ".labkit-app-train button, button.labkit-app-train"),
             timeout_s, "the Train button")
    return time.monotonic() - started


def train_button(driver):
    return element(driver, ".labkit-app-train")


def stop_button(driver):
    return element(driver, ".labkit-app-stop")


def comparison_count(state):
    with sqlite3.connect(state / "results.db") as connection:
        return connection.execute("select count(*) from labkit_comparisons").fetchone()[0]


def test_page_loads_offline(server, browser):
    seconds = open_page(browser, server["url"], FIRST_PAGE_TIMEOUT_S)
    print(f"first page interactive after {seconds:.1f} s (kernel still importing TensorFlow)")
    wait_for(lambda: browser.execute_script("return !!window.Bokeh"), 30, "BokehJS in the page", driver=browser)
    time.sleep(1)
    browser.save_screenshot(str(SCREENSHOTS / "01_opened.png"))

    source = browser.page_source
    assert "cdn.jsdelivr.net/npm/@fortawesome" not in source
    external = [
        url for url in collect_requests(browser)
        if url.split(":", 1)[0] in ("http", "https", "ws", "wss")
        and not url.split("//", 1)[1].startswith("127.0.0.1")
    ]
    assert external == []
    stderr_boxes = browser.find_elements(By.CSS_SELECTOR, "[data-mime-type='application/vnd.jupyter.stderr']")
    assert [box.text for box in stderr_boxes] == []


def test_train_streams_and_stops(server, browser):
    type_into(browser, ".labkit-owner", OWNER)
    optimizers = Select(element(browser, ".labkit-optimizers select"))
    optimizers.deselect_by_value("adam")
    optimizers.select_by_value("rmsprop")
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".labkit-optimizer-rmsprop"), 10, "the rmsprop panel", driver=browser)
    assert not browser.find_elements(By.CSS_SELECTOR, ".labkit-optimizer-adam")
    type_into(browser, ".labkit-text-sgd-learning_rate", "0.05")
    type_into(browser, ".labkit-epochs", "20")
    type_into(browser, ".labkit-training-images", "2000")
    time.sleep(0.5)

    train_button(browser).click()
    wait_for(lambda: browser.execute_script(BATCH_POINTS_JS) > 0, 120, "batch points in the plots", driver=browser)
    first = browser.execute_script(BATCH_POINTS_JS)
    wait_for(lambda: browser.execute_script(BATCH_POINTS_JS) > first, 30, "more batch points", driver=browser)
    assert stop_button(browser).is_enabled()
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, ".labkit-summary table"), 60, "the summary table", driver=browser)
    browser.save_screenshot(str(SCREENSHOTS / "02_training.png"))

    stop_button(browser).click()
    clicked = time.monotonic()
    wait_for(lambda: "stopped" in element(browser, ".labkit-runs").text, 2, "a run marked stopped", driver=browser)
    wait_for(lambda: train_button(browser).is_enabled(), 2, "Train enabled again after Stop", driver=browser)
    print(f"Stop took effect after {time.monotonic() - clicked:.2f} s")
    time.sleep(0.5)
    runs_text = element(browser, ".labkit-runs").text
    assert "sgd, seed 0" in runs_text
    assert "rmsprop, seed 0" in runs_text
    summary = element(browser, ".labkit-summary").text
    assert "training loss" in summary
    assert "rmsprop min / mean / max" in summary  # rmsprop trains first: the list order
    browser.save_screenshot(str(SCREENSHOTS / "03_stopped.png"))

    # The stopped comparison's export reaches the browser as one zip.
    export_css = "button.labkit-export, .labkit-export button"
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, export_css), 10, "the Export button", driver=browser)
    element(browser, export_css).click()
    link_css = ".labkit-download a[download]"
    wait_for(lambda: browser.find_elements(By.CSS_SELECTOR, link_css), 120, "the zip download link", driver=browser)
    link = element(browser, link_css)
    prefix = "data:application/zip;base64,"
    href = link.get_attribute("href")
    assert href.startswith(prefix)
    assert link.get_attribute("download").endswith(".zip")
    with zipfile.ZipFile(io.BytesIO(base64.b64decode(href[len(prefix):]))) as archive:
        names = archive.namelist()
    for suffix in ("-loss.png", "-loss.svg", ".html", "-summary.csv", "-summary.tex", "-manifest.json"):
        assert any(name.endswith(suffix) for name in names), (suffix, names)
    browser.save_screenshot(str(SCREENSHOTS / "03b_exported.png"))


def test_invalid_learning_rate_rejected(server, browser):
    before = comparison_count(server["state"])
    type_into(browser, ".labkit-text-sgd-learning_rate", "-1")
    expected = "sgd: learning_rate must be a float in (0, inf). Received: learning_rate=-1.0"
    wait_for(lambda: expected in browser.page_source, 5, "the registry's message beside the control", driver=browser)

    train_button(browser).click()
    wait_for(lambda: expected in status_text(browser), 5, "the registry's message in the status", driver=browser)
    time.sleep(1)
    assert not stop_button(browser).is_enabled()
    assert comparison_count(server["state"]) == before
    browser.save_screenshot(str(SCREENSHOTS / "04_invalid.png"))


def test_reload_reopens_stored_runs(server, browser):
    seconds = open_page(browser, server["url"], FIRST_PAGE_TIMEOUT_S)
    print(f"page from the preheated pool interactive after {seconds:.2f} s")
    type_into(browser, ".labkit-owner", OWNER)
    wait_for(lambda: Select(element(browser, ".labkit-stored-list select")).options, 15, "the stored list", driver=browser)
    entries = [option.text for option in Select(element(browser, ".labkit-stored-list select")).options]
    assert len(entries) == 1
    assert f"{OWNER} | rmsprop vs sgd" in entries[0]
    assert "stopped" in entries[0]

    Select(element(browser, ".labkit-stored-list select")).select_by_index(0)
    element(browser, ".labkit-overlay").click()
    wait_for(lambda: "curves of" in browser.page_source, 30, "the overlay message", driver=browser)
    element(browser, ".labkit-study input").click()
    wait_for(lambda: "2017 study, published means" in element(browser, ".labkit-study-table").text, 30,
             "the study's table", driver=browser)
    time.sleep(1)
    browser.save_screenshot(str(SCREENSHOTS / "05_reopened_overlay.png"))
    element(browser, ".labkit-open").click()
    wait_for(lambda: f"Stored comparison {OWNER}" in element(browser, ".labkit-plots").text, 30,
             "the stored comparison's plots", driver=browser)
    wait_for(lambda: "Summary: min / mean / max" in element(browser, ".labkit-app-summary").text, 10,
             "the stored comparison's summary", driver=browser)
    time.sleep(2)
    browser.save_screenshot(str(SCREENSHOTS / "06_opened_stored.png"))


def test_closed_page_kernel_culled(server, browser):
    config = json.loads(element(browser, "#jupyter-config-data").get_attribute("innerHTML"))
    kernel_url = f"{server['url']}api/kernels/{config['kernelId']}"
    assert urllib.request.urlopen(kernel_url).status == 200
    browser.get("about:blank")

    def kernel_gone():
        try:
            urllib.request.urlopen(kernel_url)
        except urllib.error.HTTPError as error:
            return error.code == 404
        return False

    timeout_s = CULL_IDLE_TIMEOUT_S + 3 * CULL_INTERVAL_S + 20
    wait_for(kernel_gone, timeout_s, "the closed page's kernel culled", interval_s=0.5)
