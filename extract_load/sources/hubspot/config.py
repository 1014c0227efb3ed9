"""The HubSpot source's settings: `data_sources.hubspot` with its objects (tables) from the catalog."""
from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from extract_load.config import CatalogTable
from extract_load.errors import ConfigError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class HubSpotEndpointConfig(CatalogTable):
    """A catalogued CRM object (a standard or custom object's v3 path) and what is read of it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    path: str
    properties: list[str] | Literal["all"] = "all"
    associations: list[str] = Field(default_factory=list)
    last_modified_property: str = "hs_lastmodifieddate"

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
    max_url_length: int = Field(default=4000, ge=500)  # a GET URL's length; the rest goes by POST
    tables: list[HubSpotEndpointConfig]  # the catalog's objects

    @model_validator(mode="after")
    def _transport(self) -> "HubSpotConfig":
        if self.base_url.startswith("http://") and not self.allow_http:
            raise ValueError("base_url must be https:// (plain http only with allow_http: true, for the local sandbox)")
        if not self.base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url {self.base_url!r} is not an http(s) URL")
        names = [e.name for e in self.tables]
        if len(names) != len(set(names)):
            raise ValueError(f"object names must be unique, got {names}")
        return self

    def endpoint(self, name: str) -> HubSpotEndpointConfig:
        for endpoint in self.tables:
            if endpoint.name == name:
                return endpoint
        raise ConfigError(f"unknown HubSpot object {name!r}: configured objects are {', '.join(e.name for e in self.tables)}")
