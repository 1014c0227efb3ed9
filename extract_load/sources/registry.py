"""The one place sources are registered, and where a source's settings are typed.

A source is found by name: the built-in ones below, any installed package that declares an
`extract_load.sources` entry point (`<name> = "package.module:SOURCE"`), or one passed to
`register()` at run time. Everything that needs the list of sources (the CLI's choices, ingest,
status, maintain, retention, forget, the Airflow DAGs) asks here.
"""
from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from pydantic import BaseModel, ValidationError

from extract_load.config import Config, first_error
from extract_load.errors import ConfigError
from extract_load.sources.base import Source

ENTRY_POINT_GROUP = "extract_load.sources"
BUILTIN = {
    "redshift": "extract_load.sources.redshift:SOURCE",
    "hubspot": "extract_load.sources.hubspot:SOURCE",
}
_registered: dict[str, Source] = {}


def register(source: Source) -> Source:
    """Make `source` available by its name (replacing one of the same name); returns it."""
    if not isinstance(source, Source):
        raise TypeError(f"{source!r} does not implement the Source protocol")
    _registered[source.name] = source
    return source


def _declared() -> dict[str, str]:
    found = dict(BUILTIN)
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(entry.name, entry.value)
    return found


def names() -> list[str]:
    """Every source that can be configured, registered ones included."""
    return list(dict.fromkeys([*_declared(), *_registered]))


def get(name: str) -> Source:
    """The source called `name`; ConfigError when none is registered under it."""
    if name in _registered:
        return _registered[name]
    target = _declared().get(name)
    if target is None:
        raise ConfigError(f"unknown source {name!r}: registered sources are {', '.join(names())}")
    module, _, attribute = target.partition(":")
    return register(getattr(importlib.import_module(module), attribute or "SOURCE"))


def settings(config: Config, name: str) -> BaseModel:
    """`data_sources.<name>` typed by the source's config model (cached per config).

    Raises ConfigError naming the file and key of the first problem, or the source when the
    environment does not configure it."""
    cached = config._typed.get(name)
    if cached is not None:
        return cached
    section = config.data_sources.get(name)
    if section is None:
        raise ConfigError(f"{config.source_file}: data_sources.{name}: not configured "
                          f"(configured sources are {', '.join(config.data_sources) or 'none'})")
    model = get(name).config_model
    try:
        typed = model.model_validate(dict(section))
    except ValidationError as exc:
        loc = exc.errors()[0]["loc"]
        if loc and loc[0] == "tables" and section.tables_origin:
            where, _, key = section.tables_origin.partition(": ")
            tables = _tables_model(model)
            raise ConfigError(first_error(where, _shifted(exc), tables, prefix=key)) from None
        raise ConfigError(first_error(config.source_file, exc, model, prefix=f"data_sources.{name}")) from None
    config._typed[name] = typed
    return typed


def validate(config: Config) -> None:
    """Type every configured source's settings now (one-line ConfigError on the first problem)."""
    for name in config.configured_sources():
        settings(config, name)


def _tables_model(model: type[BaseModel]):
    field = model.model_fields.get("tables")
    return field.annotation if field else None


def _shifted(exc: ValidationError) -> ValidationError:
    """The error with its leading `tables` dropped from the location: the catalog file lists the
    tables of a source directly."""
    class Shifted:
        def errors(self):
            first = dict(exc.errors()[0])
            first["loc"] = tuple(first["loc"][1:])
            return [first]

    return Shifted()  # type: ignore[return-value]


def load_config(env: str | None = None, path=None) -> Config:
    """`extract_load.config.load_config` with every configured source's settings typed too, so a
    wrong key anywhere is one ConfigError before anything runs."""
    from extract_load.config import load_config as load_environment

    config = load_environment(env=env, path=path)
    validate(config)
    return config
