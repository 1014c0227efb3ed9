"""Start and stop both stand-ins from an environment's config (`make sandbox-up` / `-down`).

The ports and token are the ones the config's data sources point at, so `make ingest` on the
default environment reaches the sandbox with no other setting.
"""
from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlparse

from extract_load.config import Config
from extract_load.errors import ConfigError
from extract_load.sources import registry

log = logging.getLogger(__name__)


def _dirs(config: Config) -> tuple[Path, Path]:
    root = Path(config.path(config.sandbox.data_dir))
    return root / "redshift", root


def up(config: Config, events: int | None = None, contacts: int | None = None) -> dict:
    """Start both stand-ins (idempotent) and return where they listen."""
    import sandbox.hubspot as hubspot
    import sandbox.redshift as redshift

    if not config.sandbox.enabled:
        raise ConfigError(f"{config.source_file}: sandbox.enabled is false: this environment uses real sources")
    redshift_dir, hubspot_dir = _dirs(config)
    box = config.sandbox
    info = redshift.start(redshift_dir, port=box.redshift_port, pg_port=box.postgres_port, seed=box.seed,
                          scale=box.scale, events=events)
    log.info("Redshift stand-in on 127.0.0.1:%s (database %s)", info["port"], info["database"])
    hub = registry.settings(config, "hubspot") if "hubspot" in config.data_sources else None
    port = urlparse(hub.base_url).port if hub else box.hubspot_port
    token = hub.api_key.get_secret_value() if hub else "sandbox-token"
    url = hubspot.start(hubspot_dir, port=port or box.hubspot_port, seed=box.seed, scale=box.scale,
                        token=token, contacts=contacts)
    log.info("HubSpot stand-in on %s", url)
    return {"redshift": {k: v for k, v in info.items() if k != "password"}, "hubspot": url}


def down(config: Config) -> None:
    import sandbox.hubspot as hubspot
    import sandbox.redshift as redshift

    redshift_dir, hubspot_dir = _dirs(config)
    hubspot.stop(hubspot_dir)
    redshift.stop(redshift_dir)


def status(config: Config) -> dict:
    import sandbox.hubspot as hubspot
    import sandbox.redshift as redshift

    redshift_dir, hubspot_dir = _dirs(config)
    return {"redshift": redshift.is_running(redshift_dir), "hubspot": hubspot.is_running(hubspot_dir)}
