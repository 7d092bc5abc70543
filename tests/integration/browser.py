"""The user's side of issue 8's logins, played by a real headless chromium (Debian's
``chromium`` and ``chromium-driver``, through selenium): log in at django-oauth-toolkit's login
page, enter or confirm the device's user code, consent, follow the redirect to our loopback
listener.

Also runnable as ``$BROWSER`` for the CLI test (``python -m tests.integration.browser URL``):
``webbrowser`` waits for ``$BROWSER`` to exit and our listener serves only after that, so the
command forks the driving into the background and returns at once, as ``xdg-open`` does."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from typing import Any

MISSING = "chromium and chromedriver are needed (apt-get install chromium chromium-driver)"
TIMEOUT = 30.0


def available() -> bool:
    return bool(shutil.which("chromium") and shutil.which("chromedriver"))


def start() -> Any:
    """A headless chromium, kept light: one profile in a temporary folder, no images, no
    background networking, loopback only."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    options = Options()
    options.binary_location = shutil.which("chromium") or "chromium"
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--no-proxy-server",
        "--blink-settings=imagesEnabled=false",
        "--renderer-process-limit=1",
        f"--user-data-dir={tempfile.mkdtemp(prefix='silentauth-chromium-')}",
    ):
        options.add_argument(flag)
    service = Service(executable_path=shutil.which("chromedriver") or "chromedriver")
    driver = webdriver.Chrome(options=options, service=service)
    driver.set_page_load_timeout(TIMEOUT)
    return driver


def _wait(driver: Any, condition: Any) -> Any:
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, TIMEOUT).until(condition)


def _by_css(css: str) -> Any:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    return ec.element_to_be_clickable((By.CSS_SELECTOR, css))


def log_in_if_asked(driver: Any, username: str, password: str) -> None:
    """At DOT's login page (``/accounts/login/``), log in; elsewhere do nothing."""
    if "/accounts/login/" not in driver.current_url:
        return
    _wait(driver, _by_css("#id_username")).send_keys(username)
    driver.find_element("css selector", "#id_password").send_keys(password)
    driver.find_element("css selector", "#login-submit").click()
    _wait(driver, lambda d: "/accounts/login/" not in d.current_url)


def approve_device(
    driver: Any,
    verification_uri: str,
    user_code: str,
    username: str,
    password: str,
    *,
    accept: bool = True,
) -> str:
    """Open the verification page, log in, enter the code, accept (or deny). Returns the final
    page's text."""
    driver.get(verification_uri)
    log_in_if_asked(driver, username, password)
    field = _wait(driver, _by_css("#id_user_code"))
    field.clear()
    field.send_keys(user_code)
    driver.find_element("css selector", "button[type=submit]").click()
    _wait(driver, lambda d: "/device-confirm/" in d.current_url)
    value = "accept" if accept else "deny"
    _wait(driver, _by_css(f"button[value={value}]")).click()
    _wait(driver, lambda d: "/device-grant-status/" in d.current_url)
    text: str = driver.find_element("tag name", "body").text
    return text


def authorize(driver: Any, url: str, username: str, password: str, *, allow: bool = True) -> str:
    """Open the authorization URL, log in, consent, and follow the redirect to the loopback
    listener. Returns the text of the page the browser ends on (our listener's)."""
    driver.get(url)
    log_in_if_asked(driver, username, password)
    if "/o/authorize/" in driver.current_url:
        button = "input[name=allow]" if allow else "input[type=submit]:not([name])"
        _wait(driver, _by_css(button)).click()
    _wait(
        driver,
        lambda d: (
            d.current_url.startswith("http://127.0.0.1")
            and "/o/" not in d.current_url
            and "/accounts/" not in d.current_url
        ),
    )
    _wait(driver, lambda d: d.find_element("tag name", "body").text.strip() != "")
    text: str = driver.find_element("tag name", "body").text
    return text


def main(argv: list[str]) -> int:
    """``$BROWSER URL``: fork, and in the child drive chromium through the login (credentials
    from ``DOT_USERNAME``/``DOT_PASSWORD``), writing the final page's text to
    ``SILENTAUTH_BROWSER_LOG``."""
    url = argv[1]
    if os.fork() != 0:
        return 0  # the parent returns at once, like xdg-open
    os.setsid()
    log = os.environ.get("SILENTAUTH_BROWSER_LOG", os.devnull)
    driver = start()
    try:
        text = authorize(driver, url, os.environ["DOT_USERNAME"], os.environ["DOT_PASSWORD"])
    except Exception as exc:  # reported through the log file, read by the test
        text = f"FAILED: {type(exc).__name__}: {exc}"
    finally:
        driver.quit()
    with open(log, "w", encoding="utf-8") as fh:
        fh.write(text)
    os._exit(0)


if __name__ == "__main__":
    sys.exit(main(sys.argv))
