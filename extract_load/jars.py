"""The JVM jars Spark needs beyond pyspark's own, fetched once from Maven Central.

`python -m extract_load.jars` (run by `make setup`) resolves `jars/pom.xml` with Maven into
`.cache/jars/`, keeping only artifacts that pyspark does not already ship (a second copy of
Hadoop, Jackson or Scala on the classpath breaks Spark). A stamp file records the pom's hash, so
later runs do nothing and need no network.
"""
from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from extract_load.config import PROJECT_ROOT

POM = PROJECT_ROOT / "jars" / "pom.xml"
JAR_DIR = PROJECT_ROOT / ".cache" / "jars"
_STAMP = JAR_DIR / ".pom.sha256"
_VERSIONED = re.compile(r"^(?P<artifact>.+?)-\d[\w.\-]*\.jar$")


def jar_paths(jar_dir: Path = JAR_DIR) -> list[str]:
    """Absolute paths of the fetched jars; empty if set-up has not run."""
    return sorted(str(p) for p in jar_dir.glob("*.jar"))


def _artifact(name: str) -> str:
    match = _VERSIONED.match(name)
    return match.group("artifact") if match else name


def fetch(profiles: tuple[str, ...] = ()) -> list[str]:
    """Fetch the jars unless the stamp says they are current; return their paths."""
    digest = hashlib.sha256(POM.read_bytes() + ",".join(profiles).encode()).hexdigest()
    if _STAMP.exists() and _STAMP.read_text() == digest and jar_paths():
        _STAMP.touch()  # newer than the virtualenv stamp: make skips this step next time
        return jar_paths()
    import pyspark

    provided = {_artifact(p.name) for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
               "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"]
        if profiles:
            cmd.append("-P" + ",".join(profiles))
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
            raise SystemExit(f"jars/pom.xml: Maven could not fetch the Spark jars: {' | '.join(tail)}")
        if JAR_DIR.exists():
            shutil.rmtree(JAR_DIR)
        JAR_DIR.mkdir(parents=True)
        for jar in Path(tmp).glob("*.jar"):
            if _artifact(jar.name) not in provided:
                shutil.copy2(jar, JAR_DIR / jar.name)
    _STAMP.write_text(digest)
    return jar_paths()


if __name__ == "__main__":
    paths = fetch(tuple(a for a in sys.argv[1:] if a))
    print(f"{len(paths)} Spark jars in {JAR_DIR.relative_to(PROJECT_ROOT)}")
