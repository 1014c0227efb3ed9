"""The embedded default's limit: Derby admits one process. A second one gets one line naming the
metastore folder and the way out (a shared metastore), never a Java stack trace."""
from __future__ import annotations

import subprocess
import sys

from extract_load.config import PROJECT_ROOT

HOLD = ("import sys; from extract_load.config import load_config; from extract_load.spark import build_spark; "
        "build_spark(load_config(path=sys.argv[1])); print('ready', flush=True); sys.stdin.read()")


def test_second_process_on_the_embedded_metastore_gets_one_line(write_config, tmp_path):
    path = write_config({"spark": {"metastore": {"kind": "derby", "path": str(tmp_path / "metastore")},
                                   "warehouse_dir": str(tmp_path / "warehouse")}}, name="derby-alone.yaml")
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, cwd=PROJECT_ROOT)
    try:
        assert holder.stdout.readline().strip() == "ready", "the first process could not open the metastore"
        second = subprocess.run([sys.executable, "-m", "extract_load", "--config", str(path), "status"],
                                capture_output=True, text=True, timeout=300, cwd=PROJECT_ROOT)
    finally:
        holder.stdin.close()
        holder.wait(timeout=120)
    lines = [ln for ln in second.stderr.splitlines() if ln.strip()]
    assert second.returncode == 1, second.stderr[-2000:]
    assert lines == [
        f"error: {tmp_path / 'metastore' / 'metastore_db'}: the embedded metastore is in use by another process "
        "(Derby admits one); wait for it, or configure a shared metastore (spark.metastore.kind: hive, "
        "see config/cluster.yaml)"], lines
