"""Run one measured step as a subprocess: wall time, peak RSS of its whole process tree, a log.

The JVM that pyspark starts is a grandchild (python -> spark-submit -> java): psutil polls the
child and all its descendants every `interval` seconds and sums their resident set sizes.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

from bench.progress import say

REPO_ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.2
HEARTBEAT_SECONDS = 15.0


@dataclass
class Measured:
    """What one subprocess cost."""

    returncode: int
    wall_s: float
    peak_rss_bytes: int
    log: str
    samples: int = 0
    peak_processes: int = 0
    cpu_s: float = 0.0
    cpu_by_process: dict = field(default_factory=dict)
    tail: list[str] = field(default_factory=list)
    rss_at_peak: dict = field(default_factory=dict)  # process name -> bytes, in the sample of the peak

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def as_dict(self) -> dict:
        return {"returncode": self.returncode, "wall_s": round(self.wall_s, 3),
                "peak_rss_bytes": self.peak_rss_bytes, "peak_rss_mib": round(self.peak_rss_bytes / 2**20, 1),
                "rss_samples": self.samples, "peak_processes": self.peak_processes,
                "cpu_s": round(self.cpu_s, 1), "cpu_s_by_process": self.cpu_by_process,
                "rss_mib_at_peak_by_process": {k: round(v / 2**20, 1) for k, v in self.rss_at_peak.items()},
                "log": self.log}


def tree_rss(proc: psutil.Process, cpu: dict[int, float] | None = None,
             seen: dict[int, psutil.Process] | None = None, by_name: dict[str, int] | None = None) -> tuple[int, int]:
    """Summed RSS of `proc` and its live descendants, and how many processes that was.

    `cpu` collects each member's CPU seconds (user + system) as last seen, by pid; `seen` every
    member met, so the caller can wait for stragglers; `by_name` this sample's RSS per process name
    (forked workers count their shared pages again, as in the sum)."""
    total, count = 0, 0
    try:
        members = [proc, *proc.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for member in members:
        if seen is not None:
            member = seen.setdefault(member.pid, member)
            label = _label(member)  # read while it lives (a script may exec another program)
            if label != "?":
                member.info = {"label": label}
        try:
            rss = member.memory_info().rss
            total += rss
            count += 1
            if by_name is not None:
                name = _name(member)
                by_name[name] = by_name.get(name, 0) + rss
            if cpu is not None:
                times = member.cpu_times()
                cpu[member.pid] = times.user + times.system
        except psutil.Error:  # exited between the listing and the read
            pass
    return total, count


def run(cmd: list[str], log_path: Path, *, label: str, env: dict | None = None, cwd: str | None = None,
        timeout: float | None = None, interval: float = POLL_SECONDS) -> Measured:
    """Run `cmd` with stdout+stderr to `log_path`, polling its tree's RSS; heartbeat lines while it runs."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ, **(env or {}))
    # the bench package is run from the repository, not installed: children run with another cwd
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)
    full_env.setdefault("PYTHONUNBUFFERED", "1")
    peak = peak_n = samples = 0
    at_peak: dict[str, int] = {}
    cpu: dict[int, float] = {}
    members: dict[int, psutil.Process] = {}
    with open(log_path, "wb") as log:
        start = time.monotonic()
        child = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 env=full_env, cwd=cwd, start_new_session=True)
        watched = psutil.Process(child.pid)
        next_beat = start + HEARTBEAT_SECONDS
        try:
            while child.poll() is None:
                sample: dict[str, int] = {}
                rss, n = tree_rss(watched, cpu, members, sample)
                samples += 1
                if rss > peak:
                    peak, at_peak = rss, sample
                peak_n = max(peak_n, n)
                now = time.monotonic()
                if now >= next_beat:
                    say(f"  {label}: {now - start:5.0f} s, tree RSS {rss / 2**30:.2f} GiB"
                        f" (peak {peak / 2**30:.2f}) | {_last_line(log_path)}")
                    next_beat = now + HEARTBEAT_SECONDS
                if timeout is not None and now - start > timeout:
                    _kill_tree(watched)
                    break
                time.sleep(interval)
        except BaseException:
            _kill_tree(watched)
            raise
        child.wait()
        wall = time.monotonic() - start
    # The JVM can outlive its Python parent by a moment, holding the embedded Derby metastore: the
    # next step must not start before it is gone. Only processes this child started are waited for.
    stragglers = [p for pid, p in members.items() if pid != child.pid and _running(p)]
    if stragglers:
        _, alive = psutil.wait_procs(stragglers, timeout=60)
        for member in alive:
            try:
                member.kill()
            except psutil.Error:
                pass
    tail = _tail(log_path, 15)
    by_process: dict[str, float] = {}
    for pid, seconds in cpu.items():
        name = _name(members.get(pid))
        by_process[name] = round(by_process.get(name, 0.0) + seconds, 1)
    return Measured(child.returncode, wall, peak, str(log_path), samples, peak_n, sum(cpu.values()),
                    by_process, tail, at_peak)


def _name(proc: psutil.Process | None) -> str:
    return (getattr(proc, "info", None) or {}).get("label", "?") if proc is not None else "?"


def _label(proc: psutil.Process) -> str:
    """java, python -m extract_load, python -m pyspark.daemon, ...: what CPU time is reported under."""
    try:
        cmdline = proc.cmdline()
    except psutil.Error:
        return "?"
    if not cmdline:
        return "?"
    if "-m" in cmdline and cmdline.index("-m") + 1 < len(cmdline):
        return "python -m " + cmdline[cmdline.index("-m") + 1]
    return os.path.basename(cmdline[0])


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _kill_tree(proc: psutil.Process) -> None:
    """Terminate the child we started and everything under it (by pid, never by name)."""
    try:
        members = [*proc.children(recursive=True), proc]
    except psutil.Error:
        return
    for member in members:
        try:
            member.terminate()
        except psutil.Error:
            pass
    _, alive = psutil.wait_procs(members, timeout=10)
    for member in alive:
        try:
            member.kill()
        except psutil.Error:
            pass


def _tail(path: Path, lines: int) -> list[str]:
    try:
        with open(path, "rb") as handle:
            handle.seek(0, os.SEEK_END)
            size = handle.tell()
            handle.seek(max(0, size - 16384))
            text = handle.read().decode(errors="replace")
    except OSError:
        return []
    return [ln for ln in text.splitlines() if ln.strip()][-lines:]


def _last_line(path: Path, width: int = 110) -> str:
    tail = _tail(path, 1)
    return (tail[0][:width] if tail else "")


def python() -> str:
    """The interpreter the bench runs under (the project's venv)."""
    return sys.executable
