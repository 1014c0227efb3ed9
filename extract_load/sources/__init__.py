"""Source systems: one package each, exposing `ingest(...)` for the ingest command."""
