"""Configuration: one YAML file per environment, `${VAR}` interpolation, strict validation.

The file is chosen by `--config PATH`, else `--env NAME` / `ELT_ENV` (default `default`), which
names `config/<NAME>.yaml`. Every problem is raised as a `ConfigError` whose message is one
line naming the file, the key and what is wrong. Secrets are `SecretStr`: they never show in a
repr, a log line or an error.
"""
from __future__ import annotations

import os
import re
import types
from pathlib import Path
from collections.abc import Mapping
from typing import Any, Iterator, Literal

import yaml
from pydantic import (BaseModel, ConfigDict, Field, PrivateAttr, SecretStr, ValidationError, field_serializer,
                      field_validator, model_validator)

from extract_load.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_ENV = "default"
DEFAULT_CATALOG = "config/catalog.yaml"

Frequency = Literal["real-time", "hourly", "daily"]

# ${VAR}, ${VAR:-default}; ${secret:...} references are resolved by the secrets module.
_VAR = re.compile(r"\$\{(?!secret:)([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")
_SECRET_REF = re.compile(r"\$\{secret:([^}]+)\}")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LakehouseConfig(_Strict):
    """Where bronze (and dbt's silver/gold) live: a local path or an `s3a://` / `abfss://` URI."""

    root: str = "data/lakehouse"
    bronze_schema: str = "bronze"
    ops_schema: str = "ops"
    # Where executors read dlt's load files: where dlt wrote them on the driver (`local`), or a
    # copy under `<root>/_staging/` (`lakehouse`), for executors on other hosts. `auto`: the copy
    # when the master is not local[...] and the root is an object store.
    staging: Literal["auto", "local", "lakehouse"] = "auto"


class MetastoreConfig(_Strict):
    """The catalog: embedded Derby (one process at a time), a shared Hive metastore, or AWS Glue.

    A shared Hive metastore is reached either as a service (`uri: thrift://host:9083`) or by
    opening its database directly from every Spark driver (`jdbc_url`, `user`, `password`).
    """

    kind: Literal["derby", "hive", "glue"] = "derby"
    path: str = "data/metastore"
    uri: str | None = None  # thrift://host:9083 for a shared Hive metastore service
    jdbc_url: str | None = None  # jdbc:postgresql://host:5432/metastore: the metastore database itself
    user: str | None = None
    password: SecretStr | None = None
    # Embedded Derby: how long a command waits for the catalog held by another process (usually
    # the previous command's JVM, still exiting) before it gives up with one line.
    wait_seconds: int = Field(default=120, ge=0)


class SparkConfig(_Strict):
    master: str = "local[2]"  # local[N], spark://host:7077, yarn, k8s://https://host:443
    # How the extra jars (Delta, connectors, JDBC driver) reach a cluster's executors: `ship` them
    # from the driver (spark.jars), or they are `installed` on every node at the same path
    # (extraClassPath; the S3 connector alone is ~690 MB, too much to ship per application).
    jars: Literal["ship", "installed"] = "ship"
    app_name: str = "extract-load"
    warehouse_dir: str = "data/warehouse"
    metastore: MetastoreConfig = MetastoreConfig()
    conf: dict[str, str] = Field(default_factory=dict)

    @field_validator("conf", mode="before")
    @classmethod
    def _stringify(cls, value: Any) -> Any:
        if isinstance(value, dict):
            return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
        return value


class SandboxConfig(_Strict):
    """The local stand-ins for Redshift and HubSpot; only the default environment enables them."""

    enabled: bool = False
    data_dir: str = "data/sandbox"
    redshift_port: int = 5439
    postgres_port: int = 5440
    hubspot_port: int = 8765
    seed: int = 42
    scale: int = Field(default=1, gt=0)


class MaintenanceConfig(_Strict):
    """OPTIMIZE/VACUUM settings; 168 h keeps a week of time travel, Delta's own default."""

    retain_hours: int = Field(default=168, ge=0)


class PrivacyConfig(_Strict):
    """The key of gold's keyed hashes of personal data; a secret in production."""

    pii_hash_key: SecretStr = SecretStr("local-dev-pii-hash-key")


class DbtConfig(_Strict):
    project_dir: str = "dbt_project"
    target: str = "local"
    threads: int = Field(default=2, gt=0)  # models/tests dbt runs at once
    thrift_host: str = "localhost"  # the Spark Thrift Server of the `thrift` target
    thrift_port: int = Field(default=10000, gt=0)


class SmtpConfig(_Strict):
    host: str = "localhost"
    port: int = Field(default=25, gt=0)
    sender: str = "elt-alerts@localhost"
    recipients: list[str] = Field(default_factory=list)
    username: str | None = None
    password: SecretStr | None = None
    starttls: bool = False
    timeout_seconds: float = Field(default=10.0, gt=0)


class AlertsConfig(_Strict):
    """Where alerts go (`log`, a Slack-compatible `webhook`, `email`) and when runs alert."""

    channels: list[Literal["log", "webhook", "email"]] = Field(default_factory=lambda: ["log"])
    webhook_url: SecretStr | None = None  # a Slack webhook URL is a credential
    smtp: SmtpConfig | None = None
    slow_factor: float = Field(default=3.0, gt=1)  # slower than this x the median of recent successes
    slow_history: int = Field(default=10, gt=0)  # successful runs the median is taken over
    slow_min_runs: int = Field(default=3, gt=0)  # no performance alert before this much history
    slow_min_seconds: float = Field(default=5.0, ge=0)  # runs shorter than this never count as slow
    empty_runs: int = Field(default=3, gt=0)  # consecutive empty incremental runs that alert
    dq_warnings: bool = False  # also alert on dbt tests that warn (they are recorded either way)
    timeout_seconds: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _channels_complete(self) -> "AlertsConfig":
        if "webhook" in self.channels and self.webhook_url is None:
            raise ValueError("the webhook channel needs webhook_url")
        if "email" in self.channels and (self.smtp is None or not self.smtp.recipients):
            raise ValueError("the email channel needs smtp.host and smtp.recipients")
        return self


class CatalogTable(BaseModel):
    """What every catalog entry has, whatever its source: the rest is the source's to validate."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: str
    frequency: Frequency = "hourly"
    retention_days: int | None = Field(default=None, gt=0)

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):  # it names the bronze table: bronze.<source>_<name>
            raise ValueError(f"{value!r} is not a plain SQL identifier")
        return value


class SourceSection(Mapping):
    """`data_sources.<name>` as read (variables and secret references resolved), its catalog
    tables merged in: the source's own config model types it (`sources.registry.settings`).

    Values may be secrets, so its repr shows the keys only."""

    def __init__(self, values: dict[str, Any], tables_origin: str = ""):
        self._values = dict(values)
        self.tables_origin = tables_origin  # where `tables` came from, for error messages

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"SourceSection(keys={sorted(self._values)})"

    __str__ = __repr__


class Config(_Strict):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    environment: str
    source_file: str = ""
    catalog_file: str = DEFAULT_CATALOG  # the tables and endpoints every environment lands
    work_dir: str = "data/work"  # local scratch: dlt pipeline folders, load files, logs
    lakehouse: LakehouseConfig = LakehouseConfig()
    spark: SparkConfig = SparkConfig()
    sandbox: SandboxConfig = SandboxConfig()
    dbt: DbtConfig = DbtConfig()
    alerts: AlertsConfig = AlertsConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    # connection settings per source (typed by the source's own model), catalog tables merged in
    data_sources: dict[str, SourceSection]
    _typed: dict = PrivateAttr(default_factory=dict)  # typed source settings, cached by the registry

    @field_validator("data_sources", mode="before")
    @classmethod
    def _sections(cls, value: Any) -> Any:
        if not isinstance(value, dict):
            return value
        out = {}
        for name, section in value.items():
            if not isinstance(name, str) or not _IDENTIFIER.match(name):
                raise ValueError(f"source name {name!r} is not a plain identifier")
            if section is None:
                section = {}
            if not isinstance(section, (dict, SourceSection)):
                raise ValueError(f"data_sources.{name} must be a mapping of settings")
            out[name] = section if isinstance(section, SourceSection) else SourceSection(section)
        return out

    @field_serializer("data_sources")
    def _masked(self, value: dict[str, SourceSection]) -> dict:
        return {name: repr(section) for name, section in value.items()}

    def path(self, value: str) -> str:
        """A local path from the file resolved against the project root; URIs pass through."""
        if "://" in value or value.startswith("file:"):
            return value
        return str((PROJECT_ROOT / value).resolve()) if not os.path.isabs(value) else value

    @property
    def lakehouse_root(self) -> str:
        return self.path(self.lakehouse.root)

    @property
    def work_path(self) -> str:
        return self.path(self.work_dir)

    def ops_location(self, table: str) -> str:
        return f"{self.lakehouse_root.rstrip('/')}/ops/{table}"

    def ops_table(self, table: str) -> str:
        return f"{self.lakehouse.ops_schema}.{table}"

    def bronze_location(self, source: str, table: str) -> str:
        return f"{self.lakehouse_root.rstrip('/')}/bronze/{source}/{table}"

    def bronze_table(self, source: str, table: str) -> str:
        return f"{self.lakehouse.bronze_schema}.{source}_{table}"

    def configured_sources(self) -> list[str]:
        """The sources this environment connects to, in the order the file lists them."""
        return list(self.data_sources)

    def catalog(self, source: str) -> list[CatalogTable]:
        """The source's catalog entries in this environment (generic fields; the source types the rest)."""
        section = self.data_sources.get(source)
        if section is None:
            raise ConfigError(f"{self.source_file}: data_sources.{source}: not configured "
                              f"(configured sources are {', '.join(self.data_sources) or 'none'})")
        return [CatalogTable.model_validate(entry) for entry in section.get("tables", [])]

    def source_tables(self, source: str | None = None) -> list[tuple[str, str]]:
        """(source, table) pairs configured, optionally for one source."""
        sources = [source] if source is not None else self.configured_sources()
        return [(name, entry.name) for name in sources for entry in self.catalog(name)]

    def catalog_entry(self, source: str, table: str) -> CatalogTable:
        for entry in self.catalog(source):
            if entry.name == table:
                return entry
        raise ConfigError(f"{self.source_file}: unknown {source} table {table!r}: configured are "
                          f"{', '.join(e.name for e in self.catalog(source))}")

    def frequency(self, source: str, table: str) -> str:
        return self.catalog_entry(source, table).frequency


def config_path(env: str | None = None, path: str | os.PathLike | None = None) -> Path:
    """The file to read: an explicit path wins, then the environment name, then `ELT_ENV`."""
    if path:
        return Path(path)
    name = env or os.environ.get("ELT_ENV") or DEFAULT_ENV
    if not _IDENTIFIER.match(name.replace("-", "_")):
        raise ConfigError(f"ELT_ENV/--env {name!r} is not a valid environment name")
    return CONFIG_DIR / f"{name}.yaml"


def load_config(env: str | None = None, path: str | os.PathLike | None = None) -> Config:
    """Read, interpolate and validate an environment file, with the table catalog merged in.

    Raises ConfigError (one line: file, key, problem) for a missing file, invalid YAML, an
    unset variable, an unknown key or a wrong type. Each source's own settings are typed (and
    their errors raised) by `extract_load.sources.registry.settings`.
    """
    file = config_path(env, path)
    shown = _display(file)
    raw = _read_yaml(file, shown, "(set --config or ELT_ENV to an existing environment)")
    raw = _interpolate(raw, shown, ())
    from extract_load.secrets import resolve_secret_refs

    raw = resolve_secret_refs(raw, shown)
    raw.setdefault("environment", file.stem)
    raw["source_file"] = str(file)
    if isinstance(raw.get("data_sources"), dict):
        raw["data_sources"] = _with_catalog(raw, shown)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(first_error(shown, exc, Config)) from None


def _read_yaml(file: Path, shown: str, hint: str) -> dict:
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{shown}: file not found {hint}") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{shown}:{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{shown}: top level must be a mapping of keys")
    return raw


def _with_catalog(raw: dict, shown: str) -> dict[str, SourceSection]:
    """Each configured source's section with its tables: the catalog's entries, changed by the
    environment's `tables: {<name>: {key: value}}` overrides, or replaced by a `tables:` list."""
    catalog_file = Path(raw.get("catalog_file") or DEFAULT_CATALOG)
    if not catalog_file.is_absolute():
        catalog_file = PROJECT_ROOT / catalog_file
    catalog_shown = _display(catalog_file)
    catalog = _read_yaml(catalog_file, catalog_shown, "(catalog_file)")
    sections: dict[str, SourceSection] = {}
    for source, section in raw["data_sources"].items():
        section = dict(section or {})
        entries = catalog.get(source, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) and "name" in e for e in entries):
            raise ConfigError(f"{catalog_shown}: {source}: expected a list of tables, each with a name")
        tables = section.get("tables")
        origin = f"{catalog_shown}: {source}"
        if isinstance(tables, list):
            entries, origin = tables, f"{shown}: data_sources.{source}.tables"
        elif isinstance(tables, dict):
            known = {e["name"] for e in entries}
            for name, change in tables.items():
                if name not in known:
                    raise ConfigError(f"{shown}: data_sources.{source}.tables.{name}: not in the catalog "
                                      f"({catalog_shown}); catalogued are {', '.join(sorted(known)) or 'none'}")
                if not isinstance(change, dict):
                    raise ConfigError(f"{shown}: data_sources.{source}.tables.{name}: expected a mapping of overrides")
            entries = [{**e, **tables.get(e["name"], {})} for e in entries]
        elif tables is not None:
            raise ConfigError(f"{shown}: data_sources.{source}.tables: expected overrides by table name (a mapping) "
                              "or this environment's own list")
        for i, entry in enumerate(entries):
            try:
                CatalogTable.model_validate(entry)
            except ValidationError as exc:
                where, _, key = origin.partition(": ")
                raise ConfigError(first_error(where, exc, CatalogTable, prefix=f"{key}[{i}]")) from None
        section["tables"] = entries
        sections[source] = SourceSection(section, origin)
    return sections


def _display(file: Path) -> str:
    try:
        return str(file.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(file)


def _interpolate(node: Any, shown: str, key: tuple) -> Any:
    if isinstance(node, dict):
        return {k: _interpolate(v, shown, key + (k,)) for k, v in node.items()}
    if isinstance(node, list):
        return [_interpolate(v, shown, key + (i,)) for i, v in enumerate(node)]
    if not isinstance(node, str):
        return node

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        value = os.environ.get(name)
        if not value:
            if default is None:
                raise ConfigError(f"{shown}: {_dotted(key)}: environment variable {name} is not set (or empty)")
            return default
        return value

    text = _VAR.sub(substitute, node)
    # A whole-value reference keeps YAML typing (port: ${PORT:-5439} is an int); empty means unset.
    if text != node and _VAR.fullmatch(node.strip()):
        if text == "":
            return None
        try:
            loaded = yaml.safe_load(text)
        except yaml.YAMLError:
            return text
        return loaded if isinstance(loaded, (int, float, bool)) else text
    return text


def _dotted(key: tuple) -> str:
    out = ""
    for part in key:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def first_error(shown: str, exc: ValidationError, model: Any = None, prefix: str = "") -> str:
    """The first validation error as one line: file, dotted key, problem. A value is echoed
    only when the key is not a secret (`SecretStr` in `model`, or a secret-looking name)."""
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
    key = ".".join(part for part in (prefix, _dotted(loc) if loc else "") if part).replace(".[", "[")
    if err["type"] == "extra_forbidden":
        return f"{shown}: {key}: unknown key"
    if err["type"] == "missing":
        return f"{shown}: {key}: required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    if "input" in err and err["type"] not in ("value_error",) and not isinstance(err["input"], (dict, list)):
        secret = _is_secret(model, loc) or any(s in key for s in ("password", "api_key", "token", "secret"))
        shown_input = "***" if secret else repr(err["input"])
        return f"{shown}: {key}: {message} (got {shown_input})"
    return f"{shown}: {key}: {message}"


def _is_secret(model: Any, loc: tuple) -> bool:
    """True when the field at `loc` of `model` (a model class, or a list of them) holds a SecretStr."""
    import typing

    annotation: Any = model
    for part in loc:
        while typing.get_origin(annotation) in (typing.Union, types.UnionType, list, dict):
            args = [a for a in typing.get_args(annotation) if a is not type(None)]
            annotation = args[-1] if args else Any
        if isinstance(part, int):
            continue
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            field = annotation.model_fields.get(part) or next(
                (f for f in annotation.model_fields.values() if f.alias == part), None)
            if field is None:
                return False
            annotation = field.annotation
        elif not isinstance(part, int):
            return False
    while typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        annotation = args[0] if args else Any
    return annotation is SecretStr
