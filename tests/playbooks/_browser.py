"""A real headless browser (Debian's chromium) for pages the collection writes: screenshot, rendered DOM, console.

Installed with apt-get when missing and running as root, the way Samba is for the SMB tests; otherwise
the caller skips (or fails under CI=1).
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import uuid
from pathlib import Path

from _apt import AptInstallFailed, apt_install  # tests/_apt.py

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # Console messages go to stderr as 'INFO:CONSOLE:<line>] "<message>", source: <url>'.
    "--enable-logging=stderr",
    "--v=0",
)
_CONSOLE = re.compile(r":CONSOLE[:(]\d*\)?\]? ?(.*)")


class BrowserUnavailable(RuntimeError):
    pass


def find_chromium() -> str | None:
    return next((c for c in (shutil.which("chromium"), shutil.which("chromium-browser"), "/usr/bin/chromium") if c and os.path.exists(c)), None)


def ensure_chromium() -> str:
    try:
        found = apt_install("chromium", find_chromium, recommends=True)
    except AptInstallFailed as exc:
        raise BrowserUnavailable(f"apt-get install chromium failed: {exc}") from None
    if not found:
        raise BrowserUnavailable("chromium is not installed and could not be (root with apt-get: apt-get install chromium)")
    return found


@dataclasses.dataclass
class Rendered:
    dom: str
    screenshot: Path
    console: list[str]

    @property
    def text(self) -> str:
        """The DOM's visible text, roughly: tags, style and script removed, entities left as the browser wrote them."""
        body = re.sub(r"<(style|script)[^>]*>.*?</\1>", " ", self.dom, flags=re.S | re.I)
        return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).replace("&amp;", "&")


def _run(chromium: str, work: Path, *args: str) -> subprocess.CompletedProcess[str]:
    profile = work / f"profile-{uuid.uuid4().hex[:8]}"  # a fresh profile for every run
    return subprocess.run([chromium, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=120, check=True)


def console_messages(stderr: str) -> list[str]:
    return [match.group(1) for line in stderr.splitlines() if (match := _CONSOLE.search(line))]


def render(chromium: str, page: Path, work: Path, *, width: int = 1280, height: int = 2400) -> Rendered:
    work.mkdir(parents=True, exist_ok=True)
    shot = work / (page.stem + ".png")
    url = page.resolve().as_uri()
    dumped = _run(chromium, work, "--dump-dom", url)
    pictured = _run(chromium, work, f"--screenshot={shot}", f"--window-size={width},{height}", "--hide-scrollbars", url)
    return Rendered(dumped.stdout, shot, console_messages(dumped.stderr) + console_messages(pictured.stderr))
