"""HubSpot CRM stand-in: a local HTTP server speaking the CRM v3/v4 API over seeded data.

`start()` runs it in a background process (`python -m sandbox.hubspot serve`), with its pid
file, connection info and log under `<data_dir>/hubspot/`. State lives in memory: every start
re-seeds the same data from the seed, and changes made through `/_sandbox/advance` are lost.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from .limits import DEFAULTS as LIMIT_DEFAULTS

REPO_ROOT = Path(__file__).resolve().parents[2]
_children: dict[int, subprocess.Popen] = {}
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _folder(data_dir) -> Path:
    return Path(data_dir) / "hubspot"


def _pid(data_dir) -> int | None:
    try:
        return int((_folder(data_dir) / "server.pid").read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    """True for a live (not zombie) stand-in process with this pid."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return b"sandbox.hubspot" in cmdline and state != "Z"


def info(data_dir) -> dict | None:
    """The running server's connection info (url, port, pid, seed, ...) or None."""
    if not is_running(data_dir):
        return None
    return json.loads((_folder(data_dir) / "server.json").read_text())


def is_running(data_dir) -> bool:
    """Whether the stand-in recorded under data_dir is up."""
    pid = _pid(data_dir)
    return pid is not None and _alive(pid)


def _health(url: str) -> dict | None:
    try:
        with _no_proxy.open(f"{url}/_sandbox/health", timeout=2) as response:
            return json.loads(response.read())
    except (OSError, ValueError):
        return None


def start(data_dir: Path, port: int = 8765, seed: int = 42, scale: int = 1,
          token: str = "sandbox-token", contacts: int | None = None, host: str = "127.0.0.1",
          anchor: str | None = None, timeout: float = 180.0, **limits) -> str:
    """Start the stand-in in the background unless it already runs; return its base URL.

    `limits` are the settings of `/_sandbox/limits` (ten_second_budget, daily_budget,
    search_per_second, indexing_lag_seconds, omit_retry_after_ratio, max_url_length).
    Raises ValueError for unknown settings, RuntimeError when the server does not come up.
    """
    unknown = set(limits) - set(LIMIT_DEFAULTS)
    if unknown:
        raise ValueError(f"unknown HubSpot stand-in settings: {sorted(unknown)}")
    existing = info(data_dir)
    if existing:
        return existing["url"]
    folder = _folder(data_dir)
    folder.mkdir(parents=True, exist_ok=True)
    url = f"http://{host}:{port}"
    cmd = [sys.executable, "-m", "sandbox.hubspot", "serve", "--host", host, "--port", str(port),
           "--seed", str(seed), "--scale", str(scale), "--token", token, "--limits", json.dumps(limits)]
    if contacts is not None:
        cmd += ["--contacts", str(contacts)]
    if anchor:
        cmd += ["--anchor", anchor]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p))
    with open(folder / "server.log", "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=REPO_ROOT, env=env, start_new_session=True)
    _children[proc.pid] = proc
    (folder / "server.pid").write_text(str(proc.pid))
    (folder / "server.json").write_text(json.dumps({
        "url": url, "host": host, "port": port, "pid": proc.pid, "seed": seed, "scale": scale,
        "contacts": contacts, "token": token, "limits": limits}, indent=2))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = (folder / "server.log").read_text(errors="replace")[-2000:]
            (folder / "server.pid").unlink(missing_ok=True)
            raise RuntimeError(f"HubSpot stand-in exited with {proc.returncode}:\n{tail}")
        health = _health(url)
        if health and health.get("pid") == proc.pid:
            return url
        time.sleep(0.1)
    stop(data_dir)
    raise RuntimeError(f"HubSpot stand-in did not answer on {url} within {timeout:.0f} s")


def stop(data_dir: Path, timeout: float = 10.0) -> bool:
    """Stop the stand-in recorded under data_dir; return whether one was running."""
    pid = _pid(data_dir)
    was_running = pid is not None and _alive(pid)
    if was_running:
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            _reap(pid)
            time.sleep(0.05)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)
        _reap(pid, block=True)
    (_folder(data_dir) / "server.pid").unlink(missing_ok=True)
    return was_running


def _reap(pid: int, block: bool = False) -> None:
    proc = _children.get(pid)
    if proc is None:
        return
    try:
        proc.wait(timeout=5 if block else 0.001)
        _children.pop(pid, None)
    except subprocess.TimeoutExpired:
        pass
