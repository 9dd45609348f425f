"""A headless Chromium for the page tests (Debian's chromium and chromium-driver; skipped without them)."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
BASE_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
)
# MapLibre draws with WebGL 2: software rendering in a headless browser without a GPU.
WEBGL_FLAGS = ("--use-angle=swiftshader", "--enable-unsafe-swiftshader")


@contextmanager
def headless_chromium(profile_dir: Path, size: tuple[int, int], *, webgl: bool = False):
    """A driver with a window of `size` CSS pixels and its own profile; quit afterwards."""
    if not CHROMIUM or not CHROMEDRIVER:
        pytest.skip("needs Debian's chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    webdriver = pytest.importorskip("selenium.webdriver", reason="needs the selenium package (requirements-dev.txt)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    flags = [f for f in BASE_FLAGS if not (webgl and f == "--disable-gpu")] + list(WEBGL_FLAGS if webgl else ())
    for flag in (*flags, f"--window-size={size[0]},{size[1]}", f"--user-data-dir={profile_dir}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=CHROMEDRIVER))
    driver.set_window_size(*size)
    try:
        yield driver
    finally:
        driver.quit()
