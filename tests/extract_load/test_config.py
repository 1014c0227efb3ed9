"""Configuration: interpolation, validation errors as one line, secrets masked, CLI exit codes."""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from extract_load.config import CONFIG_DIR, PROJECT_ROOT
from extract_load.sources.registry import load_config, settings
from extract_load.errors import ConfigError
from extract_load.ingest import select_tables

AWS_ENV = {
    "LAKEHOUSE_URI": "s3a://bucket/lakehouse", "SPARK_WAREHOUSE_URI": "s3a://bucket/warehouse",
    "REDSHIFT_CLUSTER_ID": "prod-cluster", "REDSHIFT_DATABASE": "analytics", "AWS_REGION": "eu-west-1",
    "HUBSPOT_API_KEY": "pat-secret-value", "ELT_PII_HASH_KEY": "pii-key",
    "ALERT_WEBHOOK_URL": "https://hooks.example.com/T000/B000", "ALERT_SMTP_HOST": "smtp.example.com",
    "ALERT_EMAIL_TO": "data-team@example.com",
}


def write(tmp_path, text: str):
    path = tmp_path / "config.yaml"
    path.write_text(text)
    return path


def minimal(extra: str = "", redshift_table: str = "marketing_campaigns") -> str:
    return f"""
environment: test
data_sources:
  redshift:
    host: 127.0.0.1
    database: analytics
    username: loader
    password: ${{TEST_REDSHIFT_PASSWORD:-pw}}
    tables:
      - name: {redshift_table}
        primary_key: [campaign_id, date]
        cursor: updated_at
{extra}"""


def test_default_config_points_at_the_sandbox():
    config = load_config()
    assert config.sandbox.enabled
    assert settings(config, "hubspot").base_url.startswith("http://127.0.0.1")
    assert [t.name for t in settings(config, "redshift").tables] == [
        "marketing_campaigns", "customer_behavior", "web_analytics"]
    assert [e.name for e in settings(config, "hubspot").tables] == ["contacts", "deals", "companies", "tickets"]


@pytest.mark.parametrize("env", ["aws", "azure"])
def test_production_configs_load_from_the_environment(env, monkeypatch):
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    config = load_config(env=env)
    assert config.lakehouse.root == "s3a://bucket/lakehouse"
    assert settings(config, "redshift").auth == "iam" and settings(config, "redshift").ssl.verify
    assert settings(config, "hubspot").base_url.startswith("https://")
    assert settings(config, "redshift").host is None


def test_missing_variable_names_file_key_and_variable(monkeypatch):
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LAKEHOUSE_URI")
    with pytest.raises(ConfigError) as err:
        load_config(env="aws")
    assert str(err.value) == "config/aws.yaml: lakehouse.root: environment variable LAKEHOUSE_URI is not set (or empty)"


def test_interpolation_keeps_types_and_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_PORT", "5999")
    config = load_config(path=write(tmp_path, minimal().replace("host: 127.0.0.1", "host: 127.0.0.1\n    port: ${TEST_PORT}")))
    assert settings(config, "redshift").port == 5999
    assert settings(config, "redshift").password.get_secret_value() == "pw"


def test_unknown_key_is_one_line(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(path=write(tmp_path, minimal().replace("database: analytics", "database: analytics\n    databse: typo")))
    message = str(err.value)
    assert message.endswith("data_sources.redshift.databse: unknown key") and "\n" not in message


def test_wrong_type_names_key_and_value(tmp_path):
    with pytest.raises(ConfigError) as err:
        load_config(path=write(tmp_path, minimal().replace("host: 127.0.0.1", "host: 127.0.0.1\n    port: lots")))
    assert "data_sources.redshift.port: Input should be a valid integer" in str(err.value)
    assert "'lots'" in str(err.value)


def test_bad_table_name_rejected_before_any_sql(tmp_path):
    with pytest.raises(ConfigError, match=r"data_sources.redshift.tables\[0\].name: 'x; drop table y' is not a plain SQL identifier"):
        load_config(path=write(tmp_path, minimal(redshift_table="'x; drop table y'")))


def test_secret_values_never_show(tmp_path, monkeypatch):
    monkeypatch.setenv("TEST_REDSHIFT_PASSWORD", "s3cr3t-sentinel")
    config = load_config(path=write(tmp_path, minimal()))
    assert "s3cr3t-sentinel" not in repr(config) and "s3cr3t-sentinel" not in str(config)
    assert "s3cr3t-sentinel" not in config.model_dump_json()


def test_plain_http_hubspot_refused_unless_sandbox(tmp_path):
    text = minimal("""  hubspot:
    base_url: http://api.example.com
    api_key: token
    tables: [{name: contacts, path: /crm/v3/objects/contacts}]""")
    with pytest.raises(ConfigError, match="base_url must be https://"):
        load_config(path=write(tmp_path, text))


def test_the_catalog_is_one_file_and_environments_only_override_it(tmp_path, monkeypatch):
    for key, value in AWS_ENV.items():
        monkeypatch.setenv(key, value)
    catalog = yaml.safe_load((CONFIG_DIR / "catalog.yaml").read_text())
    for env in ("default", "aws", "azure", "cluster"):
        raw = yaml.safe_load((CONFIG_DIR / f"{env}.yaml").read_text())
        for source, section in raw["data_sources"].items():
            assert not isinstance(section.get("tables"), list), f"{env}.yaml lists {source} tables of its own"
        config = load_config(env=env)
        assert config.source_tables() == [(s, t["name"]) for s in ("redshift", "hubspot") for t in catalog[s]]
    aws = load_config(env="aws")
    assert settings(aws, "redshift").table("customer_behavior").retention_days == 730  # aws.yaml's override
    assert settings(load_config(), "redshift").table("customer_behavior").retention_days is None
    assert settings(aws, "redshift").table("web_analytics").version_column == "updated_at"  # no drift
    overrides = minimal().replace("    tables:\n", "    tables:\n      nosuch: {retention_days: 5}\n    old_tables:\n")
    with pytest.raises(ConfigError, match=r"data_sources.redshift.tables.nosuch: not in the catalog \(config/catalog.yaml\)"):
        load_config(path=write(tmp_path, overrides))


def test_a_bad_catalog_entry_names_the_catalog_file(tmp_path):
    (tmp_path / "catalog.yaml").write_text("redshift:\n  - {name: events, primary_key: [id]}\n")
    text = minimal().replace("environment: test", f"environment: test\ncatalog_file: {tmp_path / 'catalog.yaml'}")
    text = text[:text.index("    tables:")]
    with pytest.raises(ConfigError) as err:
        load_config(path=write(tmp_path, text))
    assert str(err.value) == f"{tmp_path / 'catalog.yaml'}: redshift[0].cursor: required key is missing"


def test_unknown_table_or_source_selection():
    config = load_config()
    assert select_tables(config, "hubspot", ["deals"], None) == {"hubspot": ["deals"]}
    assert select_tables(config, None, None, "daily") == {"redshift": ["web_analytics"], "hubspot": ["companies"]}
    with pytest.raises(ConfigError, match="unknown table 'dealz'"):
        select_tables(config, "hubspot", ["dealz"], None)


def run_cli(*args, env=None):
    import os

    return subprocess.run([sys.executable, "-m", "extract_load", *args], capture_output=True, text=True,
                          cwd=PROJECT_ROOT, env={**os.environ, **(env or {})})


@pytest.mark.parametrize("args, expected", [
    (["--config", "nowhere.yaml", "config"], "nowhere.yaml: file not found"),
    (["--env", "aws", "config"], "environment variable LAKEHOUSE_URI is not set"),
    (["ingest", "--source", "hubspot", "--table", "dealz"], "unknown table 'dealz'"),
])
def test_cli_bad_configuration_exits_2_with_one_line(args, expected):
    result = run_cli(*args, env={"LAKEHOUSE_URI": ""} if "aws" in args else None)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0]


def test_cli_config_masks_secrets():
    result = run_cli("config", env={"HUBSPOT_API_KEY": "pat-sentinel-123"})
    assert result.returncode == 0, result.stderr
    assert "pat-sentinel-123" not in result.stdout and "api_key: '**********'" in result.stdout
