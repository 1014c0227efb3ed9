"""The Redshift source's settings: `data_sources.redshift` with its tables from the catalog."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from extract_load.config import CatalogTable
from extract_load.errors import ConfigError

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SslConfig(_Strict):
    enabled: bool = True
    verify: bool = True


class RedshiftTableConfig(CatalogTable):
    """A catalogued Redshift table: its key, cursor and how it is read and partitioned."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    source: str = ""  # the system the data comes from (documentation)
    primary_key: list[str]
    cursor: str
    version_column: str | None = None  # newest version of a key wins in bronze; default: the cursor
    lookback_minutes: int = Field(default=0, ge=0)
    lookback_days: int = Field(default=0, ge=0)
    partition_by: list[str] = Field(default_factory=list)
    chunk_rows: int | None = Field(default=None, gt=0)
    # columns naming a person, by identifier kind (email, user_id, contact_id): `forget` erases by them
    personal_data: dict[str, Literal["email", "user_id", "contact_id"]] = Field(default_factory=dict)

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
    pack_rows: bool = True  # fetch most columns as one CSV text per row (catalog.pack_columns)
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
