#!/usr/bin/env python3
"""Browser test for the gateway's sign-in (issue 7).

Headless Chromium (Debian's `chromium` and `chromium-driver`, driven by Selenium) opens the demo
practice app through `wardgate serve --demo`, is sent to the sign-in page, signs in with a
user's temporary password, is made to change it before anything else, reaches the app, and is
signed out after the idle timeout; a form posted from another site is refused. A screenshot of the sign-in page is saved (docs/login.png).

Usage: tests/browser/login.py [WARDGATE_BINARY] [SCREENSHOT]
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "target", "debug", "wardgate")
SHOT = sys.argv[2] if len(sys.argv) > 2 else os.path.join(ROOT, "docs", "login.png")
IDLE = 8  # seconds


def main():
    data = tempfile.mkdtemp(prefix="wardgate-browser-")
    log = open(os.path.join(data, "gateway.log"), "w")
    gateway = subprocess.Popen(
        [BINARY, "serve", "--demo", "--data-dir", data, "--listen", "127.0.0.1:0",
         "--session-idle", f"{IDLE}s"],
        stdout=subprocess.DEVNULL, stderr=log)
    driver = None
    try:
        info_path = os.path.join(data, "demo.json")
        for _ in range(600):
            if os.path.exists(info_path):
                try:
                    info = json.load(open(info_path))
                    break
                except ValueError:
                    pass
            if gateway.poll() is not None:
                raise SystemExit("the gateway exited; see " + log.name)
            time.sleep(0.1)
        else:
            raise SystemExit("demo.json did not appear")
        url = info["url"]
        user = next(u for u in info["users"] if "Office Staff" in u["roles"])

        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    # The demo's certificate is self-signed.
                    "--ignore-certificate-errors", "--window-size=900,760",
                    "--user-data-dir=" + os.path.join(data, "chromium")]:
            options.add_argument(arg)
        service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
        driver = webdriver.Chrome(service=service, options=options)
        wait = WebDriverWait(driver, 20)

        # 1. The app asks for a sign-in first.
        driver.get(url + "/api/patients")
        wait.until(lambda d: "/.wardgate/login" in d.current_url)
        assert d_title(driver).startswith("Sign in"), driver.title
        os.makedirs(os.path.dirname(SHOT), exist_ok=True)
        driver.save_screenshot(SHOT)

        # 2. The temporary password signs in only to be changed.
        driver.find_element(By.ID, "email").send_keys(user["email"])
        driver.find_element(By.ID, "password").send_keys(user["password"])
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        wait.until(lambda d: d.current_url.endswith("/.wardgate/password"))
        driver.get(url + "/api/patients")
        wait.until(lambda d: "/.wardgate/login" in d.current_url)  # nothing before the change
        driver.get(url + "/.wardgate/password")
        new = "Browser#Tested2026"
        driver.find_element(By.ID, "current").send_keys(user["password"])
        driver.find_element(By.ID, "new").send_keys(new)
        driver.find_element(By.ID, "confirm").send_keys(new)
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()

        # 3. The demo app, as the signed-in user.
        wait.until(lambda d: d.current_url.endswith("/api/patients") and "Maria Lopez" in d.page_source)
        assert "Office Staff" in driver.page_source, driver.page_source[:500]

        # 4. Idle past the timeout: signed out.
        time.sleep(IDLE + 3)
        driver.get(url + "/api/patients")
        wait.until(lambda d: "/.wardgate/login" in d.current_url)
        # 5. A form on another site (here a data: page, whose origin is opaque) cannot post to
        #    the gateway's sign-in.
        import urllib.parse
        forged = ("<form method=post action='" + url + "/.wardgate/login'>"
                  "<input name=email value='" + user["email"] + "'><input name=password value='" + new + "'>"
                  "</form><script>document.forms[0].submit()</script>")
        driver.get("data:text/html," + urllib.parse.quote(forged))
        wait.until(lambda d: "cross_site" in d.page_source)
        driver.get(url + "/api/patients")
        wait.until(lambda d: "/.wardgate/login" in d.current_url)  # and it signed nobody in
        print("browser test passed: sign-in, forced password change, app reached, idle sign-out, "
              "cross-site form refused")
    finally:
        if driver is not None:
            driver.quit()
        gateway.terminate()
        try:
            gateway.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gateway.kill()


def d_title(driver):
    return driver.title or ""


if __name__ == "__main__":
    main()
