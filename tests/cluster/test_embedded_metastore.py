"""The embedded default's limit: Derby admits one process. A command that finds the catalog held
waits for it (bounded), and gives up with one line naming the metastore folder and the way out
(a shared metastore), never a Java stack trace; a command releases the catalog before it returns."""
from __future__ import annotations

import re
import subprocess
import sys
import time

from extract_load.config import PROJECT_ROOT

HOLD = ("import sys; from extract_load.config import load_config; from extract_load.spark import build_spark; "
        "build_spark(load_config(path=sys.argv[1])); print('ready', flush=True); sys.stdin.read()")


LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d (INFO|WARNING|ERROR|DEBUG) ")


def _derby_config(write_config, tmp_path, name: str, wait_seconds: int):
    return write_config({"spark": {"metastore": {"kind": "derby", "path": str(tmp_path / "metastore"),
                                                 "wait_seconds": wait_seconds},
                                   "warehouse_dir": str(tmp_path / "warehouse")},
                         "work_dir": str(tmp_path / "work")}, name=name)


def _cli(path, *command: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "extract_load", "--config", str(path), *command],
                          capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)


def _hold(path) -> subprocess.Popen:
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=PROJECT_ROOT)
    assert holder.stdout.readline().strip() == "ready", "the first process could not open the metastore"
    return holder


def test_second_process_on_the_embedded_metastore_gets_one_line(write_config, tmp_path):
    path = _derby_config(write_config, tmp_path, "derby-alone.yaml", wait_seconds=0)
    holder = _hold(path)
    try:
        second = _cli(path, "status")
    finally:
        holder.stdin.close()
        holder.wait(timeout=120)
    lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
    assert second.returncode == 1, second.stderr[-2000:]
    assert lines == [
        f"error: {tmp_path / 'metastore' / 'metastore_db'}: the embedded metastore is in use by another process "
        "(Derby admits one); wait for it, or configure a shared metastore (spark.metastore.kind: hive, "
        "see config/cluster.yaml)"], lines


def test_a_command_waits_for_the_metastore_then_runs(write_config, tmp_path):
    path = _derby_config(write_config, tmp_path, "derby-wait.yaml", wait_seconds=120)
    holder = _hold(path)
    try:
        second = subprocess.Popen([sys.executable, "-m", "extract_load", "--config", str(path), "status"],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=PROJECT_ROOT)
        time.sleep(8)  # the second command is now waiting for the catalog
        assert second.poll() is None, second.communicate()
    finally:
        holder.stdin.close()
        holder.wait(timeout=120)
    out, err = second.communicate(timeout=300)
    assert "waiting up to 120 s for the embedded metastore" in err, err[-2000:]
    assert "in use by another process" not in err and "error:" not in err, err[-2000:]
    assert out.startswith("table"), out  # the status table was printed


def test_two_commands_back_to_back_both_succeed(write_config, tmp_path):
    # no waiting allowed: the first command must have released the catalog when it returned
    path = _derby_config(write_config, tmp_path, "derby-back-to-back.yaml", wait_seconds=0)
    first, second = _cli(path, "status"), _cli(path, "status")
    for command in (first, second):
        assert "error:" not in command.stderr, command.stderr[-2000:]
        assert command.stdout.startswith("table"), command.stdout
        # a quiet console: our own log lines only; the JVM's warnings went to its log file
        noise = [ln for ln in command.stderr.splitlines() if ln.strip() and not LOG_LINE.match(ln)]
        assert not noise, noise
    assert "NativeCodeLoader" in (tmp_path / "work" / "logs" / "spark.log").read_text()
