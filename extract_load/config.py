"""Configuration: one YAML file per environment, `${VAR}` interpolation, strict validation.

The file is chosen by `--config PATH`, else `--env NAME` / `ELT_ENV` (default `default`), which
names `config/<NAME>.yaml`. Every problem is raised as a `ConfigError` whose message is one
line naming the file, the key and what is wrong. Secrets are `SecretStr`: they never show in a
repr, a log line or an error.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator, model_validator

from extract_load.errors import ConfigError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CONFIG_DIR = PROJECT_ROOT / "config"
DEFAULT_ENV = "default"

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


class SslConfig(_Strict):
    enabled: bool = True
    verify: bool = True


class RedshiftTableConfig(_Strict):
    name: str
    source: str = ""
    frequency: Frequency = "hourly"
    primary_key: list[str]
    cursor: str
    version_column: str | None = None  # newest version of a key wins in bronze; default: the cursor
    lookback_minutes: int = Field(default=0, ge=0)
    lookback_days: int = Field(default=0, ge=0)
    partition_by: list[str] = Field(default_factory=list)
    chunk_rows: int | None = Field(default=None, gt=0)
    retention_days: int | None = Field(default=None, gt=0)

    @field_validator("name", "cursor", "version_column")
    @classmethod
    def _identifier(cls, value: str | None) -> str | None:
        if value is not None and not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a plain SQL identifier")
        return value

    @field_validator("primary_key", "partition_by")
    @classmethod
    def _key_identifiers(cls, value: list[str], info) -> list[str]:
        if not value and info.field_name == "primary_key":
            raise ValueError("at least one key column is required")
        for column in value:
            if not _IDENTIFIER.match(column):
                raise ValueError(f"{column!r} is not a plain SQL identifier")
        return value


class RedshiftConfig(_Strict):
    host: str | None = None
    cluster_identifier: str | None = None
    database: str
    port: int = 5439
    username: str | None = None
    password: SecretStr | None = None
    schema_: str = Field(default="public", alias="schema")
    auth: Literal["password", "iam"] = "password"
    region: str | None = None
    db_user: str | None = None
    aws_profile: str | None = None  # iam auth: a named AWS profile; else the default credential chain
    ssl: SslConfig = SslConfig()
    chunk_rows: int = Field(default=100_000, gt=0)
    chunks_per_commit: int = Field(default=20, gt=0)  # chunks MERGEd per bronze commit (and cursor save)
    pack_rows: bool = True  # fetch most columns as one CSV text per row (helpers.pack_columns)
    unload: dict[str, str] | None = None
    tables: list[RedshiftTableConfig]

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    @model_validator(mode="after")
    def _auth_complete(self) -> "RedshiftConfig":
        if self.auth == "password" and (not self.username or self.password is None):
            raise ValueError("password auth needs username and password")
        if self.auth == "iam" and not (self.cluster_identifier and self.region):
            raise ValueError("iam auth needs cluster_identifier and region")
        if self.host is None and not self.cluster_identifier:
            raise ValueError("either host or cluster_identifier is required")
        names = [t.name for t in self.tables]
        if len(names) != len(set(names)):
            raise ValueError(f"table names must be unique, got {names}")
        return self

    def table(self, name: str) -> RedshiftTableConfig:
        for table in self.tables:
            if table.name == name:
                return table
        raise ConfigError(f"unknown Redshift table {name!r}: configured tables are {', '.join(t.name for t in self.tables)}")


class HubSpotEndpointConfig(_Strict):
    name: str
    path: str
    frequency: Frequency = "hourly"
    properties: list[str] | Literal["all"] = "all"
    associations: list[str] = Field(default_factory=list)
    last_modified_property: str = "hs_lastmodifieddate"
    retention_days: int | None = Field(default=None, gt=0)

    @field_validator("name")
    @classmethod
    def _identifier(cls, value: str) -> str:
        if not _IDENTIFIER.match(value):
            raise ValueError(f"{value!r} is not a plain identifier")
        return value

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        if not value.startswith("/"):
            raise ValueError(f"{value!r} must start with '/'")
        return value


class HubSpotConfig(_Strict):
    base_url: str = "https://api.hubapi.com"
    api_key: SecretStr
    rate_limit: int = Field(default=100, gt=0)  # requests per 10 seconds
    search_rate_limit: int = Field(default=5, gt=0)  # search requests per second
    allow_http: bool = False  # only the local sandbox speaks plain http
    page_size: int = Field(default=100, gt=0, le=100)
    search_page_size: int = Field(default=200, gt=0, le=200)
    lookback_minutes: int = Field(default=10, ge=0)
    timeout_seconds: float = Field(default=30.0, gt=0)
    endpoints: list[HubSpotEndpointConfig]

    @model_validator(mode="after")
    def _transport(self) -> "HubSpotConfig":
        if self.base_url.startswith("http://") and not self.allow_http:
            raise ValueError("base_url must be https:// (plain http only with allow_http: true, for the local sandbox)")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url {self.base_url!r} is not an http(s) URL")
        names = [e.name for e in self.endpoints]
        if len(names) != len(set(names)):
            raise ValueError(f"endpoint names must be unique, got {names}")
        return self

    def endpoint(self, name: str) -> HubSpotEndpointConfig:
        for endpoint in self.endpoints:
            if endpoint.name == name:
                return endpoint
        raise ConfigError(f"unknown HubSpot object {name!r}: configured objects are {', '.join(e.name for e in self.endpoints)}")


class DataSourcesConfig(_Strict):
    redshift: RedshiftConfig | None = None
    hubspot: HubSpotConfig | None = None


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


class Config(_Strict):
    environment: str
    source_file: str = ""
    work_dir: str = "data/work"  # local scratch: dlt pipeline folders, load files, logs
    lakehouse: LakehouseConfig = LakehouseConfig()
    spark: SparkConfig = SparkConfig()
    sandbox: SandboxConfig = SandboxConfig()
    dbt: DbtConfig = DbtConfig()
    alerts: AlertsConfig = AlertsConfig()
    maintenance: MaintenanceConfig = MaintenanceConfig()
    privacy: PrivacyConfig = PrivacyConfig()
    data_sources: DataSourcesConfig

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

    def source_tables(self, source: str | None = None) -> list[tuple[str, str]]:
        """(source, table) pairs configured, optionally for one source."""
        pairs: list[tuple[str, str]] = []
        if self.data_sources.redshift and source in (None, "redshift"):
            pairs += [("redshift", t.name) for t in self.data_sources.redshift.tables]
        if self.data_sources.hubspot and source in (None, "hubspot"):
            pairs += [("hubspot", e.name) for e in self.data_sources.hubspot.endpoints]
        return pairs

    def frequency(self, source: str, table: str) -> str:
        if source == "redshift" and self.data_sources.redshift:
            return self.data_sources.redshift.table(table).frequency
        if source == "hubspot" and self.data_sources.hubspot:
            return self.data_sources.hubspot.endpoint(table).frequency
        raise ConfigError(f"unknown source {source!r}: configured sources are {', '.join(self.configured_sources())}")

    def configured_sources(self) -> list[str]:
        return [name for name in ("redshift", "hubspot") if getattr(self.data_sources, name) is not None]


def config_path(env: str | None = None, path: str | os.PathLike | None = None) -> Path:
    """The file to read: an explicit path wins, then the environment name, then `ELT_ENV`."""
    if path:
        return Path(path)
    name = env or os.environ.get("ELT_ENV") or DEFAULT_ENV
    if not _IDENTIFIER.match(name.replace("-", "_")):
        raise ConfigError(f"ELT_ENV/--env {name!r} is not a valid environment name")
    return CONFIG_DIR / f"{name}.yaml"


def load_config(env: str | None = None, path: str | os.PathLike | None = None) -> Config:
    """Read, interpolate and validate a configuration file.

    Raises ConfigError (one line: file, key, problem) for a missing file, invalid YAML, an
    unset variable, an unknown key or a wrong type.
    """
    file = config_path(env, path)
    shown = _display(file)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{shown}: file not found (set --config or ELT_ENV to an existing environment)") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise ConfigError(f"{shown}:{where}: invalid YAML ({getattr(exc, 'problem', exc)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{shown}: top level must be a mapping of keys")
    raw = _interpolate(raw, shown, ())
    from extract_load.secrets import resolve_secret_refs

    raw = resolve_secret_refs(raw, shown)
    raw.setdefault("environment", file.stem)
    raw["source_file"] = str(file)
    try:
        return Config.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(_first_error(shown, exc)) from None


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


def _first_error(shown: str, exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = tuple(p for p in err["loc"] if p not in ("function-after", "function-before"))
    key = _dotted(loc)
    if err["type"] == "extra_forbidden":
        return f"{shown}: {key}: unknown key"
    if err["type"] == "missing":
        return f"{shown}: {key}: required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    if "input" in err and err["type"] not in ("value_error",) and not isinstance(err["input"], (dict, list)):
        secret_like = any(s in key for s in ("password", "api_key", "token", "secret"))
        shown_input = "***" if secret_like else repr(err["input"])
        return f"{shown}: {key}: {message} (got {shown_input})"
    return f"{shown}: {key}: {message}"
