"""Load the served app with several browser sessions that each train a tiny run.

Starts `python -m labkit.app.serve` on a free 127.0.0.1 port with a fresh
state folder, opens `--sessions` headless Chromium pages at once, and in
each one types a student name and presses Train (SGD, Fashion-MNIST, the
"mlp" model, `--epochs` epochs on `--train-size` images). While they run,
a monitor samples the training slots in use and the memory of the server
and its kernels. After every session has finished, the pages are closed and
the script waits for the server to cull their kernels.

It prints, per session, the time until the page was interactive, whether
the page showed a queue position, and the time until training ended. Then
it prints the maximum number of trainings seen running at once (which must
not exceed `--max-concurrent-trainings`), the peak memory, and the kernels
left after the pages closed. It exits with 1 if a session failed, the queue limit was
exceeded or closed pages kept their kernels.

Usage:
    python benchmarks/app_load.py [--sessions 6] [--max-concurrent-trainings 2]
        [--epochs 2] [--train-size 300] [--pool-size 2]

Needs /usr/bin/chromium, /usr/bin/chromedriver and Fashion-MNIST on disk.
Each kernel imports TensorFlow (about 700 MiB), so give the machine about
1 GiB of memory per session.
"""

import argparse
import pathlib
import socket
import subprocess
import sys
import tempfile
import threading
import time

import psutil
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from labkit.export._browser import CHROME_ARGUMENTS as BROWSER_ARGUMENTS

REPO = pathlib.Path(__file__).resolve().parents[1]
CHROME_ARGUMENTS = (*BROWSER_ARGUMENTS, "--window-size=1400,1200")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, timeout_s, description, interval_s=0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(interval_s)
    raise TimeoutError(f"Timed out after {timeout_s} s waiting for {description}.")


def kernel_processes(server):
    return [child for child in server.children(recursive=True) if "ipykernel_launcher" in " ".join(child.cmdline())]


def tree_rss_mib(server):
    total = 0
    for process in [server, *server.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except psutil.NoSuchProcess:
            pass
    return total / 2**20


class Monitor(threading.Thread):
    """Sample slots in use and memory until stopped."""

    def __init__(self, server, slots):
        super().__init__(daemon=True)
        self.server, self.slots = server, slots
        self.max_running = 0
        self.max_waiting = 0
        self.peak_rss_mib = 0.0
        self.stopped = threading.Event()

    def run(self):
        while not self.stopped.is_set():
            self.max_running = max(self.max_running, self.slots.running_count())
            self.max_waiting = max(self.max_waiting, self.slots.waiting_count())
            self.peak_rss_mib = max(self.peak_rss_mib, tree_rss_mib(self.server))
            self.stopped.wait(0.25)


def run_session(index, url, args, results, drivers):
    result = results[index] = {"session": index, "error": None, "queued": False}
    try:
        options = webdriver.ChromeOptions()
        options.binary_location = "/usr/bin/chromium"
        for argument in (*CHROME_ARGUMENTS, f"--user-data-dir={tempfile.mkdtemp(prefix='labkit-load-')}"):
            options.add_argument(argument)
        driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
        drivers[index] = driver
        started = time.monotonic()
        driver.get(url)
        wait_until(lambda: driver.find_elements(By.CSS_SELECTOR, ".labkit-app-train"), args.page_timeout_s, "Train")
        result["interactive_s"] = time.monotonic() - started

        def type_into(css, text):
            field = driver.find_element(By.CSS_SELECTOR, f"{css} input")
            field.send_keys(Keys.CONTROL, "a")
            field.send_keys(Keys.DELETE)
            field.send_keys(text, Keys.ENTER)

        type_into(".labkit-owner", f"student-{index}")
        type_into(".labkit-epochs", str(args.epochs))
        type_into(".labkit-training-images", str(args.train_size))
        adam = driver.find_element(By.CSS_SELECTOR, ".labkit-optimizers select option[value='adam']")
        adam.click()  # deselects Adam, so only SGD trains
        time.sleep(0.5)
        clicked = time.monotonic()
        driver.find_element(By.CSS_SELECTOR, ".labkit-app-train").click()

        def ended():
            status = driver.find_element(By.CSS_SELECTOR, ".labkit-status").text
            if "Waiting in the queue" in status or "You are next" in status:
                result["queued"] = True
            return "Training ended" in status or "failed" in status.lower()

        wait_until(ended, args.train_timeout_s, "training to end", interval_s=0.2)
        result["train_s"] = time.monotonic() - clicked
        result["status"] = driver.find_element(By.CSS_SELECTOR, ".labkit-status").text
        if "Training ended" not in result["status"]:
            result["error"] = result["status"]
    except Exception as error:  # reported per session below
        result["error"] = f"{type(error).__name__}: {error}"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=6)
    parser.add_argument("--max-concurrent-trainings", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--train-size", type=int, default=300)
    parser.add_argument("--pool-size", type=int, default=2)
    parser.add_argument("--cull-idle-timeout", type=int, default=15)
    parser.add_argument("--page-timeout-s", type=float, default=600)
    parser.add_argument("--train-timeout-s", type=float, default=900)
    args = parser.parse_args(argv)

    from labkit.app import TrainingSlots

    state = pathlib.Path(tempfile.mkdtemp(prefix="labkit-app-load-")) / "state"
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = state.parent / "server.log"
    command = [
        sys.executable, "-m", "labkit.app.serve", "--port", str(port), "--state-dir", str(state),
        "--pool-size", str(args.pool_size), "--max-concurrent-trainings", str(args.max_concurrent_trainings),
        "--cull-idle-timeout", str(args.cull_idle_timeout), "--cull-interval", "2",
    ]
    with open(log_path, "w") as log:
        server_process = subprocess.Popen(command, cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    server = psutil.Process(server_process.pid)
    drivers = [None] * args.sessions
    failed = False
    try:
        wait_until(lambda: "serving" in log_path.read_text(), 60, "the server")
        monitor = Monitor(server, TrainingSlots(state / "queue", args.max_concurrent_trainings))
        monitor.start()
        results = [None] * args.sessions
        threads = [
            threading.Thread(target=run_session, args=(i, url, args, results, drivers))
            for i in range(args.sessions)
        ]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        total_s = time.monotonic() - started
        monitor.stopped.set()
        monitor.join()

        print(f"{args.sessions} sessions, at most {args.max_concurrent_trainings} trainings at once, "
              f"pool of {args.pool_size} preheated kernels; all done in {total_s:.1f} s")
        for result in results:
            if result["error"]:
                failed = True
                print(f"  session {result['session']}: FAILED {result['error']}")
            else:
                print(f"  session {result['session']}: interactive after {result['interactive_s']:.1f} s, "
                      f"queued: {'yes' if result['queued'] else 'no'}, "
                      f"Train to end {result['train_s']:.1f} s")
        print(f"max trainings running at once: {monitor.max_running} "
              f"(limit {args.max_concurrent_trainings}); max waiting: {monitor.max_waiting}")
        print(f"peak memory of server and kernels: {monitor.peak_rss_mib:.0f} MiB")
        if monitor.max_running > args.max_concurrent_trainings:
            failed = True

        before = len(kernel_processes(server))
        for driver in drivers:
            if driver is not None:
                driver.quit()
        closed = time.monotonic()
        try:
            wait_until(lambda: len(kernel_processes(server)) <= args.pool_size,
                       args.cull_idle_timeout + 60, "closed pages' kernels to be culled", interval_s=1)
        except TimeoutError:
            failed = True
        after = len(kernel_processes(server))
        print(f"kernels: {before} with pages open, {after} {time.monotonic() - closed:.0f} s after closing "
              f"them (the preheated pool keeps {args.pool_size}); memory now {tree_rss_mib(server):.0f} MiB")
    finally:
        for driver in drivers:
            if driver is not None:
                try:
                    driver.quit()
                except Exception:
                    pass
        server_process.terminate()
        try:
            server_process.wait(30)
        except subprocess.TimeoutExpired:
            server_process.kill()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
