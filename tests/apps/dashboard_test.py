"""The dashboard in a real headless Chromium against a real `grid serve`: the page asks for the
token, lists a sandbox the test created through the API, shows an exec (whose text is an XSS
attempt) in the live trajectory as text, and stops the sandbox from its Stop button.
Arguments: API base URL, token, sandbox id, image, artifact dir, chromium binary."""
import json
import os
import sys
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from cdp_client import Browser  # noqa: E402

api, token, sandbox_id, image, artifacts, chromium = sys.argv[1:7]
os.makedirs(artifacts, exist_ok=True)
failures = []


def check(description, ok, detail=""):
    print(("ok: " if ok else "FAILED: ") + description + ("" if ok else f": {detail}"))
    if not ok:
        failures.append(description)


def request(method, path, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(api + path, data=data, method=method,
                                 headers={"Authorization": "Bearer " + token,
                                          "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as response:
        return json.load(response)


row = f'#sandboxes tr[data-id="{sandbox_id}"]'
XSS_COMMAND = "echo grid-dashboard-ok # <img src=x onerror=window.__gridXss=1>"
XSS_OUTPUT = "<img src=x onerror=window.__gridXss=2><script>window.__gridXss=3</script>"

browser = Browser(chromium)
try:
    browser.navigate(api + "/ui")
    browser.wait_for("!document.getElementById('token-panel').hidden",
                     "the token prompt (the API answered 401)")
    check("the page asks for the token", True)
    browser.evaluate(f"document.getElementById('token-input').value = {json.dumps(token)}")
    browser.click("#token-form button[type=submit]")
    browser.wait_for(f"document.querySelector('{row} .status')?.textContent === 'running'",
                     "the sandbox listed as running")
    check("the sandbox is listed as running", True)
    shown_image = browser.evaluate(f"document.querySelector('{row} .image').textContent")
    check("with its image", shown_image == image, shown_image)
    check("the token stays in sessionStorage only",
          browser.evaluate("sessionStorage.getItem('grid-token') === "
                           f"{json.dumps(token)} && localStorage.length === 0"))
    browser.wait_for("document.getElementById('health-status').textContent === 'healthy'",
                     "the server's health")
    max_running = browser.evaluate("document.getElementById('health-max-running').textContent")
    check("the running limit is shown", max_running.isdigit() and int(max_running) > 0,
          max_running)
    # Live resource use, where the backend can tell (all three backends here can).
    memory = browser.wait_for(
        f"(t => t && t !== '–' && t)(document.querySelector('{row} .memory')?.textContent)",
        "the sandbox's memory use")
    check("live memory use is shown", "B" in memory, memory)

    browser.click(f"{row} button.view")
    browser.wait_for(f"document.getElementById('trajectory-id').textContent === '{sandbox_id}'",
                     "the trajectory panel of the sandbox")
    result = request("POST", f"/sandboxes/{sandbox_id}/exec", {"command": XSS_COMMAND})
    check("the exec ran", result["exit_code"] == 0, result)
    result = request("POST", f"/sandboxes/{sandbox_id}/exec",
                     {"command": "printf '%s' " + "'" + XSS_OUTPUT + "'"})
    check("the second exec ran", result["output"] == XSS_OUTPUT, result)
    browser.wait_for(
        "[...document.querySelectorAll('#trajectory-list .output')]"
        f".some(e => e.textContent === {json.dumps(XSS_OUTPUT)})",
        "the exec's output in the trajectory view")
    commands = browser.evaluate(
        "[...document.querySelectorAll('#trajectory-list .command')].map(e => e.textContent)")
    check("the exec appears in the trajectory as text", "$ " + XSS_COMMAND in commands, commands)
    check("no element was made from tenant text",
          browser.evaluate("document.querySelectorAll('main img, main script').length") == 0)
    check("no injected script ran", browser.evaluate("window.__gridXss === undefined"))
    browser.screenshot(os.path.join(artifacts, "dashboard-running.png"))

    browser.click(f"{row} button.stop")
    browser.wait_for(f"document.querySelector('{row} .status')?.textContent === 'stopped'",
                     "the sandbox shown as stopped", timeout=120)
    check("the page shows the sandbox stopped", True)
    browser.screenshot(os.path.join(artifacts, "dashboard-stopped.png"))
    described = request("GET", f"/sandboxes/{sandbox_id}")
    check("the API says the sandbox is stopped", described["status"] == "stopped", described)
    errors = [line for line in browser.console if line.startswith("exception")]
    check("the page threw nothing", not errors, errors)
except Exception as e:  # a timeout or a protocol error fails the test with its screen
    failures.append(str(e))
    print("FAILED:", e)
    try:
        browser.screenshot(os.path.join(artifacts, "dashboard-failure.png"))
    except Exception:
        pass
finally:
    browser.close()

print(f"screenshots in {artifacts}")
sys.exit(1 if failures else 0)
