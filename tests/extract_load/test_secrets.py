"""Secret references resolved against a real local Secrets Manager endpoint (moto's server)."""
from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request

import boto3
import pytest

from extract_load.sources.registry import load_config, settings
from extract_load.errors import ConfigError
from tests.conftest import free_port


@pytest.fixture(scope="module")
def secrets_manager(tmp_path_factory, monkeypatch_module):
    port = free_port()
    log = tmp_path_factory.mktemp("moto") / "moto.log"
    with open(log, "w") as out:
        server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                  stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    for _ in range(200):
        try:
            urllib.request.urlopen(url + "/moto-api/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    for key, value in {"AWS_ENDPOINT_URL_SECRETS_MANAGER": url, "AWS_ACCESS_KEY_ID": "testing",
                       "AWS_SECRET_ACCESS_KEY": "testing", "AWS_REGION": "us-east-1"}.items():
        monkeypatch_module.setenv(key, value)
    client = boto3.client("secretsmanager", region_name="us-east-1", endpoint_url=url)
    client.create_secret(Name="elt/hubspot", SecretString=json.dumps({"token": "pat-from-secrets-manager"}))
    client.create_secret(Name="elt/redshift-password", SecretString="pw-from-secrets-manager")
    yield client
    server.terminate()
    server.wait(timeout=10)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


CONFIG = """
environment: test
data_sources:
  redshift:
    host: 127.0.0.1
    database: analytics
    username: loader
    password: ${secret:aws:elt/redshift-password}
    tables: [{name: marketing_campaigns, primary_key: [campaign_id, date], cursor: updated_at}]
  hubspot:
    api_key: ${secret:aws:%s}
    tables: [{name: contacts, path: /crm/v3/objects/contacts}]
"""


def test_secret_references_resolve_at_load_time(secrets_manager, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG % "elt/hubspot#token")
    config = load_config(path=path)
    assert settings(config, "hubspot").api_key.get_secret_value() == "pat-from-secrets-manager"
    assert settings(config, "redshift").password.get_secret_value() == "pw-from-secrets-manager"
    assert "from-secrets-manager" not in repr(config)


def test_rotation_is_picked_up_by_the_next_load(secrets_manager, tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG % "elt/hubspot#token")
    secrets_manager.put_secret_value(SecretId="elt/hubspot", SecretString=json.dumps({"token": "pat-rotated"}))
    assert settings(load_config(path=path), "hubspot").api_key.get_secret_value() == "pat-rotated"


@pytest.mark.parametrize("reference, expected", [
    ("elt/missing#token", "data_sources.hubspot.api_key: AWS secret 'elt/missing' could not be read (ResourceNotFoundException)"),
    ("elt/hubspot#nokey", "data_sources.hubspot.api_key: AWS secret 'elt/hubspot' has no JSON key 'nokey'"),
])
def test_a_missing_secret_is_one_line(secrets_manager, tmp_path, reference, expected):
    path = tmp_path / "c.yaml"
    path.write_text(CONFIG % reference)
    with pytest.raises(ConfigError) as err:
        load_config(path=path)
    assert str(err.value).endswith(expected) and "\n" not in str(err.value)
