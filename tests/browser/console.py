#!/usr/bin/env python3
"""Browser test for the administrator's console (issue 14).

Headless Chromium (Debian's `chromium` and `chromium-driver`, driven by Selenium) against
`wardgate serve --demo`:

  1. the System Admin signs in at /.wardgate/console/ (changing the temporary password);
  2. adds a user with two roles at a location (a generated temporary password, shown once),
     and invites another: the mail lands in the demo's mail folder, its link sets the first
     password in the invitee's browser, they sign in, and the link works once;
  3. the new user signs in with it in a second browser and must change it first;
  4. the admin locks them (the seed's "I confirm this action") and their open session ends;
  5. the admin issues an API key (shown once), it works, they revoke it, it stops working;
  6. the admin filters the activity log to the new user and exports it as CSV;
  7. the admin creates a custom role extending a built-in one (previewed, then in force);
  8. a Biller sees no user administration, and the direct URL is refused;
  9. every page visited is checked with axe-core (no serious or critical violation) when
     axe-core is installed (`npm install --prefix target/npm axe-core`, as .ci/run does).

Usage: tests/browser/console.py [WARDGATE_BINARY] [--shots DIR]
  --shots DIR   save a screenshot of each console page there (docs/console/ for the README:
                `python3 tests/browser/console.py target/debug/wardgate --shots docs/console`)
"""
import csv
import io
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select, WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ARGS = [a for a in sys.argv[1:]]
SHOTS = None
if "--shots" in ARGS:
    i = ARGS.index("--shots")
    SHOTS = ARGS[i + 1]
    del ARGS[i:i + 2]
BINARY = ARGS[0] if ARGS else os.path.join(ROOT, "target", "debug", "wardgate")
AXE = os.environ.get("AXE_JS") or os.path.join(
    ROOT, "target", "npm", "node_modules", "axe-core", "axe.min.js")
CONSOLE = "/.wardgate/console/"


class Browser:
    """One Chromium with its own profile (its own cookies): one person."""

    def __init__(self, data, name, downloads=None):
        options = webdriver.ChromeOptions()
        options.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        for arg in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--ignore-certificate-errors", "--window-size=1280,900",
                    "--user-data-dir=" + os.path.join(data, "chromium-" + name)]:
            options.add_argument(arg)
        if downloads:
            options.add_experimental_option("prefs", {
                "download.default_directory": downloads,
                "download.prompt_for_download": False,
            })
        service = Service(shutil.which("chromedriver") or "/usr/bin/chromedriver")
        self.d = webdriver.Chrome(service=service, options=options)
        self.wait = WebDriverWait(self.d, 20)
        self.checked = set()

    def go(self, url):
        self.d.get(url)

    def el(self, css):
        return self.d.find_element(By.CSS_SELECTOR, css)

    def type(self, css, text):
        e = self.el(css)
        e.clear()
        e.send_keys(text)

    def click(self, css):
        self.el(css).click()

    def source(self):
        return self.d.page_source

    def sign_in(self, url, email, password, new_password=None):
        """Signs in from `url` (which sends to the sign-in page); changes a temporary password."""
        self.go(url)
        self.wait.until(lambda d: "/.wardgate/login" in d.current_url)
        self.type("#email", email)
        self.type("#password", password)
        self.click("button[type=submit]")
        if new_password:
            self.wait.until(lambda d: d.current_url.endswith("/.wardgate/password"))
            self.type("#current", password)
            self.type("#new", new_password)
            self.type("#confirm", new_password)
            self.click("button[type=submit]")
        self.wait.until(lambda d: "/.wardgate/login" not in d.current_url
                        and "/.wardgate/password" not in d.current_url)

    def page(self, title_start, shot=None):
        """Waits for a console page, checks it with axe-core, saves its screenshot."""
        self.wait.until(lambda d: (d.title or "").startswith(title_start))
        axe(self)
        if SHOTS and shot:
            height = self.d.execute_script("return document.documentElement.scrollHeight")
            self.d.set_window_size(1280, min(int(height) + 120, 3000))
            self.d.save_screenshot(os.path.join(SHOTS, shot + ".png"))
            self.d.set_window_size(1280, 900)

    def quit(self):
        self.d.quit()


def axe(b):
    """Runs axe-core on the page: no serious or critical violation (once per page kind)."""
    if not os.path.exists(AXE):
        return
    key = b.d.title
    if key in b.checked:
        return
    b.checked.add(key)
    b.d.execute_script(open(AXE).read())
    result = b.d.execute_async_script(
        "const done = arguments[arguments.length - 1];"
        "axe.run(document, {resultTypes: ['violations']}).then(r => done(r.violations))"
        ".catch(e => done([{id: 'axe-error', impact: 'critical', help: String(e), nodes: []}]));")
    bad = [v for v in result if v.get("impact") in ("serious", "critical")]
    assert not bad, "accessibility (axe-core) on %s: %s" % (b.d.title, json.dumps(
        [{"id": v["id"], "help": v["help"],
          "nodes": [n.get("target") for n in v.get("nodes", [])][:3]} for v in bad], indent=1))


def start(data):
    log = open(os.path.join(data, "gateway.log"), "w")
    gateway = subprocess.Popen(
        [BINARY, "serve", "--demo", "--data-dir", data, "--listen", "127.0.0.1:0"],
        stdout=subprocess.DEVNULL, stderr=log)
    info_path = os.path.join(data, "demo.json")
    for _ in range(600):
        if os.path.exists(info_path):
            try:
                return gateway, json.load(open(info_path))
            except ValueError:
                pass
        if gateway.poll() is not None:
            raise SystemExit("the gateway exited; see " + log.name)
        time.sleep(0.1)
    raise SystemExit("demo.json did not appear")


def invite_link(data, to):
    """The activation link of the invitation mailed to `to`, from the demo's mail folder."""
    import email
    import email.policy
    folder = os.path.join(data, "mail")
    for _ in range(100):
        for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else []:
            msg = email.message_from_bytes(open(os.path.join(folder, name), "rb").read(),
                                           policy=email.policy.default)
            if to in str(msg["To"]) and "account" in str(msg["Subject"]):
                text = msg.get_body(preferencelist=("plain",)).get_content()
                return next(w for w in text.split() if "/.wardgate/activate?token=" in w)
        time.sleep(0.1)
    raise SystemExit("no invitation for %s in %s" % (to, folder))


def api_status(url, key, ca):
    """The status of an app request with an API key, over TLS checked against the demo's CA."""
    ctx = ssl.create_default_context(cafile=ca)
    req = urllib.request.Request(url + "/api/patients", headers={"Authorization": "Bearer " + key})
    try:
        with urllib.request.urlopen(req, context=ctx) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def main():
    data = tempfile.mkdtemp(prefix="wardgate-console-")
    downloads = os.path.join(data, "downloads")
    os.makedirs(downloads)
    if SHOTS:
        os.makedirs(SHOTS, exist_ok=True)
    gateway, info = start(data)
    url = info["url"]
    console = url + CONSOLE
    ca = info["ca_cert"]
    admin_user = next(u for u in info["users"] if "System Admin" in u["roles"])
    biller_user = next(u for u in info["users"] if "Biller" in u["roles"])
    admin = newcomer = biller = None
    try:
        # 1. The System Admin signs in at the console, changing the temporary password.
        admin = Browser(data, "admin", downloads)
        admin.sign_in(console, admin_user["email"], admin_user["password"], "Console#Admin2026")
        admin.wait.until(lambda d: d.current_url.startswith(console + "users"))
        admin.page("Users", "users")
        if SHOTS:  # and at a tablet's width
            admin.d.set_window_size(820, 1180)
            admin.d.save_screenshot(os.path.join(SHOTS, "users-tablet.png"))
            admin.d.set_window_size(1280, 900)
        assert "Priya Provider" in admin.source()
        names = [e.text for e in admin.d.find_elements(By.CSS_SELECTOR, "tbody td:first-child a")]
        assert names[0] == "Priya Provider", names  # providers first

        # 2. Add User: two roles at one location, a generated temporary password.
        admin.click("a[href$='users/new']")
        admin.page("Add User", "add-user")
        admin.type("#first_name", "Dana")
        admin.type("#last_name", "Reyes")
        admin.type("#email", "dana.reyes@demo.wardgate.test")
        admin.click("input[name=roles][value='Office Staff']")
        admin.click("input[name=roles][value='Biller']")
        Select(admin.el("#location")).select_by_value("main")
        admin.click("button[name=mode][value=add]")
        admin.page("User added")
        temporary = admin.el("#temp-password").text.strip()
        assert len(temporary) >= 12, temporary
        admin.click("a[href*='users/u-']")
        admin.page("Dana Reyes", "user")
        page = admin.source()
        assert "Office Staff (Main Street Clinic)" in page and "Biller (Main Street Clinic)" in page
        dana_url = admin.d.current_url.split("?")[0]
        dana_id = dana_url.rsplit("/", 1)[1]

        # 2b. Send Invite: the invitation lands in the demo's mail folder; its link, opened
        #     in the invitee's browser, sets the first password, and they sign in with it.
        admin.go(console + "users/new")
        admin.page("Add User")
        admin.type("#first_name", "Ines")
        admin.type("#last_name", "Invited")
        admin.type("#email", "ines.invited@demo.wardgate.test")
        admin.click("input[name=roles][value='Office Staff']")
        admin.click("button[name=mode][value=invite]")
        admin.page("Invitation sent")
        assert "ines.invited@demo.wardgate.test" in admin.el(".notice + p, main").text
        link = invite_link(data, "ines.invited@demo.wardgate.test")
        assert link.startswith(url + "/.wardgate/activate?token="), link
        invitee = Browser(data, "invitee")
        invitee.go(link)
        invitee.wait.until(lambda d: (d.title or "").startswith("Welcome"))
        axe(invitee)
        if SHOTS:
            invitee.d.save_screenshot(os.path.join(SHOTS, "activate.png"))
        invitee.type("#new", "Ines#Invited2026")
        invitee.type("#confirm", "Ines#Invited2026")
        invitee.click("button[type=submit]")
        invitee.wait.until(lambda d: "Your password is set" in d.page_source)
        invitee.type("#email", "ines.invited@demo.wardgate.test")
        invitee.type("#password", "Ines#Invited2026")
        invitee.click("form[action='/.wardgate/login'] button[type=submit]")
        invitee.wait.until(lambda d: "/.wardgate/login" not in d.current_url)
        # The link works once.
        invitee.go(link)
        invitee.wait.until(lambda d: "expired or was already used" in d.page_source)
        invitee.quit()

        # 3. The new user signs in with it and must change it before anything else.
        newcomer = Browser(data, "newcomer")
        newcomer.sign_in(url + "/api/patients", "dana.reyes@demo.wardgate.test", temporary,
                         "Dana#Changed2026")
        newcomer.wait.until(lambda d: d.current_url.endswith("/api/patients"))

        # 4. Locked by the admin (the seed's confirmation), their open session ends.
        admin.go(dana_url)
        admin.page("Dana Reyes")
        admin.click("#lock-user summary")
        admin.click("#lock-user input[name=confirm]")
        admin.click("#lock-user button[type=submit]")
        admin.wait.until(lambda d: "done=locked" in d.current_url)
        assert "locked" in admin.el(".notice").text
        newcomer.go(url + "/api/patients")
        newcomer.wait.until(lambda d: "/.wardgate/login" in d.current_url)

        # 5. An API key: issued (shown once), works, revoked, stops working.
        admin.go(console + "keys")
        admin.page("API keys", "keys")
        admin.type("#account", "front-desk-sync")
        admin.type("#scopes", "patient_demographics:*")
        admin.type("#rate_per_minute", "30")
        admin.click("form:has(input[value=issue]) button[type=submit]")
        admin.page("Your new key")
        key = admin.el("#new-key").text.strip()
        assert key.startswith("wg_"), key
        key_id = key.split("_")[1]
        assert api_status(url, key, ca) == 200
        admin.go(console + "keys")
        admin.page("API keys")
        admin.click("button[aria-label='Revoke key %s']" % key_id)
        admin.wait.until(lambda d: "done=revoked-key" in d.current_url)
        assert api_status(url, key, ca) == 401

        # 6. The activity log, filtered to the new user, exported.
        admin.go(console + "activity")
        admin.page("Activity log", "activity")
        assert "Chain verified" in admin.source()
        admin.type("#user", dana_id)
        admin.click("form.filters button[type=submit]")
        admin.wait.until(lambda d: "user=" + dana_id in d.current_url)
        rows = admin.d.find_elements(By.CSS_SELECTOR, "tbody tr")
        assert rows and "No record" not in rows[0].text, [r.text for r in rows]
        admin.click("a[download]")
        csv_path = os.path.join(downloads, "activity.csv")
        for _ in range(100):
            if os.path.exists(csv_path) and os.path.getsize(csv_path) > 0:
                break
            time.sleep(0.1)
        exported = list(csv.DictReader(io.StringIO(open(csv_path).read())))
        assert exported and all(r["actor"] == dana_id for r in exported), exported[:3]

        # 7. A custom role extending a built-in one: previewed (who gains what, the tests),
        #    then put in force.
        admin.go(console + "roles")
        admin.page("Roles", "roles")
        admin.click("#custom-role summary")
        admin.type("#name", "Lead Front Desk")
        Select(admin.el("#extends")).select_by_value("Office Staff")
        admin.type("#description", "Office Staff who also see payout reports")
        admin.click("input[name=allow][value='payout_report:view']")
        admin.click("#custom-role button[type=submit]")
        admin.page("Preview: custom role", "role-preview")
        assert "payout_report:view" in admin.source() and "gains" in admin.source()
        admin.click("form:has(input[name=do][value=save]) button[type=submit]")
        admin.wait.until(lambda d: "done=role" in d.current_url)
        assert "Lead Front Desk" in admin.source()

        for section, title in [("practice", "Practice"),
                               ("security", "Security"), ("account", "My account")]:
            admin.go(console + section)
            admin.page(title, section)

        # 8. A Biller sees no user administration; the direct URL is refused.
        biller = Browser(data, "biller")
        biller.sign_in(console, biller_user["email"], biller_user["password"], "Biller#Changed2026")
        biller.wait.until(lambda d: d.current_url.startswith(console))
        biller.page("My account")
        nav = biller.el("nav").text
        assert "Users" not in nav and "API keys" not in nav, nav
        biller.go(console + "users")
        biller.page("Not permitted")
        biller.go(console + "users/new")
        biller.page("Not permitted")
        print("console browser test passed: admin sign-in, add user with two roles at a location, "
              "invitation mailed and its link used once, forced password change, lock ends the session, key issued/used/revoked, activity "
              "filtered and exported, custom role put in force, Biller refused" +
              (", axe-core clean" if os.path.exists(AXE) else " (axe-core not installed)"))
    finally:
        for b in (admin, newcomer, biller):
            if b is not None:
                b.quit()
        gateway.terminate()
        try:
            gateway.wait(timeout=15)
        except subprocess.TimeoutExpired:
            gateway.kill()


if __name__ == "__main__":
    main()
