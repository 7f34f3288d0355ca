"""The headless Chromium that draws PNG and SVG exports.

Bokeh's own driver lookup fails for root, which needs `--no-sandbox`, and
then reports that no browser is installed. labkit therefore builds the
Selenium driver itself, one per export, and always quits it.
"""

import contextlib
import logging
import os
import pathlib
import shutil
import tempfile

from labkit.errors import LabkitError

logger = logging.getLogger(__name__)

BROWSER_ENV = "LABKIT_CHROMIUM"
DRIVER_ENV = "LABKIT_CHROMEDRIVER"
BROWSER_CANDIDATES = ("/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome")
DRIVER_CANDIDATES = ("/usr/bin/chromedriver", "chromedriver")
INSTALL_HINT = (
    "Install them with `apt-get install chromium chromium-driver` (Debian, Ubuntu), "
    f"or set {BROWSER_ENV} and {DRIVER_ENV} to their paths."
)
CHROME_ARGUMENTS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


class BrowserUnavailableError(LabkitError):
    """No headless browser or driver is found, so PNG and SVG cannot be drawn."""


def _find(explicit, env_name, candidates, role):
    path = explicit or os.environ.get(env_name)
    if path:
        found = shutil.which(path) if os.sep not in path else path
        if found and os.path.isfile(found) and os.access(found, os.X_OK):
            return found
        raise BrowserUnavailableError(
            f"PNG and SVG export need Chromium and its driver, and the {role} {path!r} was "
            f"not found or is not executable. {INSTALL_HINT}"
        )
    for candidate in candidates:
        found = shutil.which(candidate)
        if found:
            return found
    raise BrowserUnavailableError(
        f"PNG and SVG export need Chromium and its driver, and no {role} was found "
        f"(looked for {', '.join(candidates)}). {INSTALL_HINT}"
    )


def find_browser(browser=None, driver=None):
    """Return the paths of Chromium and chromedriver.

    Args:
        browser: Path of the Chromium binary. Defaults to `$LABKIT_CHROMIUM`,
            then `/usr/bin/chromium` or a `chromium` on `PATH`.
        driver: Path of chromedriver. Defaults to `$LABKIT_CHROMEDRIVER`,
            then `/usr/bin/chromedriver` or a `chromedriver` on `PATH`.

    Raises:
        BrowserUnavailableError: naming what is missing and how to install it.
    """
    return (
        _find(browser, BROWSER_ENV, BROWSER_CANDIDATES, "browser"),
        _find(driver, DRIVER_ENV, DRIVER_CANDIDATES, "chromedriver"),
    )


@contextlib.contextmanager
def open_browser(browser, driver, *, scale=1):
    """Start headless Chromium through Selenium and quit it on exit.

    Args:
        browser, driver: Paths, as from `find_browser`.
        scale: Device pixel ratio, which must be at least the PNG scale
            factor that Bokeh is asked for.

    Yields:
        A Selenium `WebDriver`.

    Raises:
        BrowserUnavailableError: if Chromium or its driver fails to start.
    """
    from selenium import webdriver
    from selenium.common.exceptions import WebDriverException
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="labkit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in CHROME_ARGUMENTS:
        options.add_argument(argument)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--force-device-scale-factor={scale}")
    try:
        try:
            session = webdriver.Chrome(options=options, service=Service(driver))
        except WebDriverException as error:
            message = str(error.msg or error).strip().splitlines()[0]
            raise BrowserUnavailableError(
                f"Chromium ({browser}) with chromedriver ({driver}) failed to start: "
                f"{message}. Check that both come from the same Chromium release. "
                f"{INSTALL_HINT}"
            ) from error
        logger.info("Started headless Chromium %s for an export.", browser)
        try:
            yield session
        finally:
            session.quit()
    finally:
        shutil.rmtree(pathlib.Path(profile), ignore_errors=True)
