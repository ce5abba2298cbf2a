"""Open a page in headless Chromium over the DevTools pipe; collect errors, requests, pixels.

Chromium reads DevTools commands from file descriptor 3 and writes replies and events
to descriptor 4, as NUL-terminated JSON (--remote-debugging-pipe), so no port and no
websocket library are needed.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
_TIMEOUT_S = 60
_WIDTH_PX = 1200


def find_browser() -> str | None:
    return next((path for name in BROWSERS if (path := shutil.which(name))), None)


@dataclass
class PageVisit:
    """What happened while a page loaded: console errors, requests, evaluated values."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    values: dict = field(default_factory=dict)


class _Pipe:
    def __init__(self, browser: str, profile: Path) -> None:
        to_browser_r, self._to_browser = os.pipe()
        self._from_browser, from_browser_w = os.pipe()

        def wire_descriptors() -> None:
            # Move both ends above 4 first, so that neither dup2 overwrites the other.
            reads, writes = (fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
                             for fd in (to_browser_r, from_browser_w))
            os.dup2(reads, 3)
            os.dup2(writes, 4)

        self.process = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--disable-extensions", "--disable-dev-shm-usage",
             "--hide-scrollbars", "--remote-debugging-pipe", f"--user-data-dir={profile}",
             "about:blank"],
            # Python's own descriptors are not inheritable (PEP 446); only 3 and 4 pass.
            # preexec_fn is safe here: the test process forks no threads meanwhile.
            close_fds=False, preexec_fn=wire_descriptors,  # noqa: PLW1509
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self._buffer = b""
        self._next_id = 0
        self.events: list[dict] = []

    def _read_message(self, deadline: float) -> dict:
        while b"\0" not in self._buffer:
            if time.monotonic() > deadline:
                raise TimeoutError("Chromium did not answer in time")
            chunk = os.read(self._from_browser, 1 << 16)
            if not chunk:
                raise RuntimeError("Chromium closed the DevTools pipe")
            self._buffer += chunk
        message, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(message)

    def call(self, method: str, session: str | None = None, **params) -> dict:
        self._next_id += 1
        command = {"id": self._next_id, "method": method, "params": params}
        if session:
            command["sessionId"] = session
        os.write(self._to_browser, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + _TIMEOUT_S
        while True:
            message = self._read_message(deadline)
            if message.get("id") == self._next_id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]
            self.events.append(message)

    def wait_for(self, method: str) -> None:
        deadline = time.monotonic() + _TIMEOUT_S
        while not any(event.get("method") == method for event in self.events):
            self.events.append(self._read_message(deadline))

    def close(self) -> None:
        try:
            self.call("Browser.close")
        except (RuntimeError, OSError, TimeoutError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
        os.close(self._to_browser)
        os.close(self._from_browser)


def _errors(events: list[dict]) -> list[str]:
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append("console: " + " ".join(str(a.get("value", a.get("description")))
                                                for a in params.get("args", [])))
        elif method == "Runtime.exceptionThrown":
            found.append("exception: " + params["exceptionDetails"].get("text", ""))
        elif method == "Log.entryAdded" and params["entry"]["level"] == "error":
            found.append(f"log ({params['entry']['source']}): {params['entry']['text']}")
    return found


def visit(browser: str, page: Path, profile: Path, expressions: dict[str, str],
          screenshot: Path | None = None, pdf: Path | None = None) -> PageVisit:
    """Load `page`, evaluate each JS expression (by value), optionally keep pixels and PDF.

    The screenshot covers the whole page at 1200 px width; the PDF is Chromium's print
    of the page with its print style sheet.
    """
    pipe = _Pipe(browser, profile)
    try:
        target = pipe.call("Target.createTarget", url="about:blank")["targetId"]
        session = pipe.call("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            pipe.call(f"{domain}.enable", session)
        pipe.call("Emulation.setDeviceMetricsOverride", session, width=_WIDTH_PX, height=900,
                  deviceScaleFactor=1, mobile=False)
        pipe.call("Page.navigate", session, url=page.resolve().as_uri())
        pipe.wait_for("Page.loadEventFired")
        result = PageVisit()
        for name, expression in expressions.items():
            reply = pipe.call("Runtime.evaluate", session, expression=expression,
                              returnByValue=True)
            result.values[name] = reply["result"].get("value")
        if screenshot is not None:
            height = pipe.call("Page.getLayoutMetrics", session)["cssContentSize"]["height"]
            shot = pipe.call("Page.captureScreenshot", session, format="png",
                             captureBeyondViewport=True,
                             clip={"x": 0, "y": 0, "width": _WIDTH_PX, "height": height,
                                   "scale": 1})
            screenshot.write_bytes(base64.b64decode(shot["data"]))
        if pdf is not None:
            printed = pipe.call("Page.printToPDF", session, printBackground=True,
                                preferCSSPageSize=True)
            pdf.write_bytes(base64.b64decode(printed["data"]))
        result.errors = _errors(pipe.events)
        result.requests = [event["params"]["request"]["url"] for event in pipe.events
                           if event.get("method") == "Network.requestWillBeSent"]
        return result
    finally:
        pipe.close()
