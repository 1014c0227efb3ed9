"""The JVM jars Spark needs beyond pyspark's own, fetched once from Maven Central.

`python -m extract_load.jars [profile...]` (run by `make setup`; the cluster targets add `s3` and
`postgres`) resolves `jars/pom.xml` with Maven: the base set (Delta Lake) into `.cache/jars/`, each
profile (`s3`, `azure`, `postgres`) into `.cache/jars/<profile>/`, keeping only artifacts that
pyspark does not already ship (a second copy of Hadoop, Jackson or Scala on the classpath breaks
Spark). Profiles stay in folders of their own so an environment loads only the connectors it
needs: the S3 one alone is ~690 MB. A stamp per folder records the pom's hash, so later runs do
nothing and need no network.
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
PROFILES = ("s3", "azure", "postgres")
_STAMP_NAME = ".pom.sha256"
_STAMP = JAR_DIR / _STAMP_NAME
_VERSIONED = re.compile(r"^(?P<artifact>.+?)-\d[\w.\-]*\.jar$")


def profile_dir(profile: str = "base", jar_dir: Path = JAR_DIR) -> Path:
    """Where one profile's jars live: the base set at the top, the others in a sub-folder."""
    return jar_dir if profile == "base" else jar_dir / profile


def jar_paths(jar_dir: Path = JAR_DIR, profiles: tuple[str, ...] = ()) -> list[str]:
    """Absolute paths of the base jars plus the named profiles'; empty if set-up has not run."""
    base = sorted(str(p) for p in jar_dir.glob("*.jar"))
    if not base:
        return []
    extra = [str(p) for profile in profiles for p in sorted(profile_dir(profile, jar_dir).glob("*.jar"))]
    return base + extra


def missing_profiles(profiles: tuple[str, ...], jar_dir: Path = JAR_DIR) -> list[str]:
    """The profiles whose folder holds no jar yet (their fetch has not run)."""
    return [p for p in profiles if not any(profile_dir(p, jar_dir).glob("*.jar"))]


def _artifact(name: str) -> str:
    match = _VERSIONED.match(name)
    return match.group("artifact") if match else name


def _digest(profile: str) -> str:
    return hashlib.sha256(POM.read_bytes() + profile.encode()).hexdigest()


def fetch_profile(profile: str = "base", touch: bool = True) -> list[str]:
    """Fetch one profile's jars unless its stamp says they are current; return their paths.

    Jars are copied in before stale ones are removed, so a Spark session starting meanwhile in
    another process never finds the folder empty.
    """
    if profile != "base" and profile not in PROFILES:
        raise SystemExit(f"jars/pom.xml: unknown jar profile {profile!r}: known are base, {', '.join(PROFILES)}")
    target = profile_dir(profile)
    stamp = target / _STAMP_NAME
    current = sorted(str(p) for p in target.glob("*.jar"))
    if stamp.exists() and stamp.read_text() == _digest(profile) and current:
        if touch:
            stamp.touch()  # newer than what make compares it with: make skips this step next time
        return current
    import pyspark

    provided = {_artifact(p.name) for p in (Path(pyspark.__file__).parent / "jars").glob("*.jar")}
    if profile != "base":  # the base set is on every classpath too
        provided |= {_artifact(Path(p).name) for p in jar_paths()}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = ["mvn", "-q", "-B", "-f", str(POM), "dependency:copy-dependencies",
               "-DincludeScope=runtime", f"-DoutputDirectory={tmp}", f"-P{profile}"]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            tail = (result.stdout + result.stderr).strip().splitlines()[-3:]
            raise SystemExit(f"jars/pom.xml: Maven could not fetch the {profile} jars: {' | '.join(tail)}")
        target.mkdir(parents=True, exist_ok=True)
        wanted = {jar.name for jar in Path(tmp).glob("*.jar") if _artifact(jar.name) not in provided}
        for name in wanted:
            if not (target / name).exists():
                shutil.move(str(Path(tmp) / name), target / name)
        for old in target.glob("*.jar"):
            if old.name not in wanted:
                old.unlink()
    stamp.write_text(_digest(profile))
    return sorted(str(p) for p in target.glob("*.jar"))


def fetch(profiles: tuple[str, ...] = ()) -> list[str]:
    """Fetch the base jars and the named profiles'; return every path (base first)."""
    fetch_profile("base", touch=not profiles)  # a profile's stamp must stay newer than the base's
    for profile in profiles:
        fetch_profile(profile)
    return jar_paths(profiles=profiles)


if __name__ == "__main__":
    wanted = tuple(a for a in sys.argv[1:] if a)
    paths = fetch(wanted)
    print(f"{len(paths)} Spark jars in {JAR_DIR.relative_to(PROJECT_ROOT)} ({', '.join(('base',) + wanted)})")
