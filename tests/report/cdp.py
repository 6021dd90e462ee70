"""A tiny Chrome DevTools Protocol client over ``--remote-debugging-pipe``: headless Chromium
(Debian's ``chromium``) opens a page, and the test reads its DOM, its console, every request
it made and a screenshot. No websocket and no dependency: the pipe is two file descriptors
(3: commands in, 4: replies and events out), messages are JSON ended by a NUL byte."""

from __future__ import annotations

import base64
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome")


def find_chromium() -> str | None:
    """``$RECONCILER_CHROMIUM``, else the first Chromium on ``PATH``."""
    given = os.environ.get("RECONCILER_CHROMIUM")
    if given:
        return given if os.access(given, os.X_OK) else None
    return next((path for name in NAMES if (path := shutil.which(name))), None)


class CdpError(RuntimeError):
    pass


def _high(fd: int) -> int:
    """``fd`` moved to a number above 9 (the original is closed)."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD, 10)
    os.close(fd)
    return moved


class Browser:
    """One headless Chromium, one page; everything the page logged and requested is kept."""

    def __init__(self, binary: str, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.profile = tempfile.mkdtemp(prefix="reconcile-chromium-")
        to_child, self._in = os.pipe()
        self._out, from_child = os.pipe()
        # Moved above 9 first, so redirecting them to 3 and 4 can never clobber one another.
        to_child, from_child = (_high(to_child), _high(from_child))
        args = [
            binary,
            "--headless",
            "--disable-gpu",
            "--remote-debugging-pipe",
            f"--user-data-dir={self.profile}",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-default-apps",
            "--hide-scrollbars",
            "--mute-audio",
            "--font-render-hinting=none",
        ]
        if hasattr(os, "geteuid") and os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium refuses to run as root with its sandbox
        args.append("about:blank")
        script = f'exec "$@" 3<&{to_child} 4>&{from_child}'
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.process = subprocess.Popen(
            [shutil.which("bash") or "/bin/bash", "-c", script, "bash", *args],
            pass_fds=(to_child, from_child),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.stderr,
        )
        os.close(to_child)
        os.close(from_child)
        self._next = 0
        self._replies: dict[int, dict[str, Any]] = {}
        self.events: list[dict[str, Any]] = []
        self._cond = threading.Condition()
        self._closed = False
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self.session: str | None = None

    # --- the pipe -------------------------------------------------------------------------

    def _read(self) -> None:
        buffer = b""
        while True:
            try:
                chunk = os.read(self._out, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                break
            buffer += chunk
            while b"\0" in buffer:
                raw, buffer = buffer.split(b"\0", 1)
                message = json.loads(raw)
                with self._cond:
                    if "id" in message:
                        self._replies[message["id"]] = message
                    else:
                        self.events.append(message)
                    self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def _log_tail(self) -> str:
        self.stderr.seek(0)
        return self.stderr.read().decode("utf-8", "replace")[-2000:]

    def send(self, method: str, params: dict[str, Any] | None = None, *, page: bool = True) -> Any:
        """Send a command (to the page's session unless ``page`` is False); its result."""
        with self._cond:
            self._next += 1
            number = self._next
        message: dict[str, Any] = {"id": number, "method": method, "params": params or {}}
        if page and self.session is not None:
            message["sessionId"] = self.session
        try:
            os.write(self._in, json.dumps(message).encode() + b"\0")
        except BrokenPipeError:
            raise CdpError(f"Chromium is not running ({method}):\n{self._log_tail()}") from None
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while number not in self._replies:
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise CdpError(
                        f"no answer to {method} from Chromium "
                        f"({'it exited' if self._closed else 'timed out'}):\n{self._log_tail()}"
                    )
                self._cond.wait(left)
            reply = self._replies.pop(number)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_for(self, method: str, since: int = 0) -> dict[str, Any]:
        """The first event ``method`` of the page, at or after index ``since``."""
        deadline = time.monotonic() + self.timeout
        with self._cond:
            while True:
                for event in self.events[since:]:
                    if event.get("method") == method and event.get("sessionId") == self.session:
                        return event
                left = deadline - time.monotonic()
                if self._closed or left <= 0:
                    raise CdpError(f"Chromium sent no {method}:\n{self._log_tail()}")
                self._cond.wait(left)

    # --- a page ---------------------------------------------------------------------------

    def open(self, url: str, width: int = 1280, height: int = 900) -> None:
        """A new page at ``url``, with everything it logs and requests recorded."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, page=False)
        attached = self.send(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, page=False
        )
        self.session = attached["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.send(f"{domain}.enable")
        self.send(
            "Emulation.setDeviceMetricsOverride",
            {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
        )
        mark = len(self.events)
        self.send("Page.navigate", {"url": url})
        self.wait_for("Page.loadEventFired", mark)

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the page (JSON-able)."""
        result = self.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
        )
        if "exceptionDetails" in result:
            raise CdpError(f"{expression[:60]}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        """A PNG of the page (the whole page, not only the window)."""
        params: dict[str, Any] = {"format": "png"}
        if full_page:
            size = self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["captureBeyondViewport"] = True
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        data = self.send("Page.captureScreenshot", params)["data"]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(data))
        return path

    def page_events(self, *methods: str) -> list[dict[str, Any]]:
        with self._cond:
            return [
                e
                for e in self.events
                if e.get("sessionId") == self.session and e.get("method") in methods
            ]

    def console_errors(self) -> list[str]:
        """Console errors and warnings, uncaught exceptions, and errors the browser logged for
        the page (a refused fetch, a blocked script: Content-Security-Policy)."""
        out = []
        for e in self.page_events("Runtime.consoleAPICalled"):
            if e["params"]["type"] in ("error", "warning", "assert"):
                out.append(" ".join(str(a.get("value")) for a in e["params"]["args"]))
        for e in self.page_events("Runtime.exceptionThrown"):
            out.append(str(e["params"]["exceptionDetails"].get("text")))
        for e in self.page_events("Log.entryAdded"):
            if e["params"]["entry"]["level"] in ("error", "warning"):
                out.append(e["params"]["entry"]["text"])
        return out

    def requests(self) -> list[str]:
        """The URL of every request the page made (its own file:// documents included)."""
        return [
            e["params"]["request"]["url"] for e in self.page_events("Network.requestWillBeSent")
        ]

    def close(self) -> None:
        try:
            if self.process.poll() is None:
                with suppress(CdpError):
                    self.send("Browser.close", page=False)
                try:
                    self.process.wait(10)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(10)
        finally:
            os.close(self._in)
            self._reader.join(5)
            os.close(self._out)
            self.stderr.close()
            shutil.rmtree(self.profile, ignore_errors=True)


@contextmanager
def browser(binary: str) -> Iterator[Browser]:
    b = Browser(binary)
    try:
        yield b
    finally:
        b.close()
