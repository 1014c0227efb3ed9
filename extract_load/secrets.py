"""Secret references in configuration, resolved at run time and kept only in memory.

Syntax, anywhere a string value stands in a config file:

    ${secret:aws:<secret name>#<json key>}     AWS Secrets Manager (region from AWS_REGION)
    ${secret:azure:<vault name>/<secret name>} Azure Key Vault (needs azure-identity, azure-keyvault-secrets)

`#<json key>` is optional for AWS: without it the whole secret string is used. The AWS client
honours `AWS_ENDPOINT_URL_SECRETS_MANAGER` / `AWS_ENDPOINT_URL`, which the tests point at a local
Secrets Manager. Values are fetched on every load, so a rotated secret is picked up by the next run.
"""
from __future__ import annotations

import json
import os
import re
from typing import Any

from extract_load.errors import ConfigError

_REF = re.compile(r"\$\{secret:([^}]+)\}")


def resolve_secret_refs(node: Any, shown: str, key: str = "") -> Any:
    """Replace every `${secret:...}` in a parsed config tree; raise ConfigError naming the key."""
    if isinstance(node, dict):
        return {k: resolve_secret_refs(v, shown, f"{key}.{k}" if key else str(k)) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve_secret_refs(v, shown, f"{key}[{i}]") for i, v in enumerate(node)]
    if isinstance(node, str) and "${secret:" in node:
        return _REF.sub(lambda m: _fetch(m.group(1), shown, key), node)
    return node


def _fetch(reference: str, shown: str, key: str) -> str:
    provider, _, rest = reference.partition(":")
    if provider == "aws":
        return _aws(rest, shown, key)
    if provider == "azure":
        return _azure(rest, shown, key)
    raise ConfigError(f"{shown}: {key}: unknown secret provider {provider!r} (use aws or azure)")


def _aws(rest: str, shown: str, key: str) -> str:
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    name, _, json_key = rest.partition("#")
    region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    try:
        client = boto3.client("secretsmanager", region_name=region)
        value = client.get_secret_value(SecretId=name)["SecretString"]
    except ClientError as exc:
        code = exc.response.get("Error", {}).get("Code", "error")
        raise ConfigError(f"{shown}: {key}: AWS secret {name!r} could not be read ({code})") from None
    except BotoCoreError as exc:
        raise ConfigError(f"{shown}: {key}: AWS Secrets Manager unreachable ({type(exc).__name__})") from None
    if not json_key:
        return value
    try:
        return str(json.loads(value)[json_key])
    except (ValueError, KeyError, TypeError):
        raise ConfigError(f"{shown}: {key}: AWS secret {name!r} has no JSON key {json_key!r}") from None


def _azure(rest: str, shown: str, key: str) -> str:
    vault, _, name = rest.partition("/")
    if not vault or not name:
        raise ConfigError(f"{shown}: {key}: Azure reference must be azure:<vault>/<secret>")
    try:
        from azure.identity import DefaultAzureCredential
        from azure.keyvault.secrets import SecretClient
    except ImportError:
        raise ConfigError(
            f"{shown}: {key}: Azure Key Vault references need `pip install azure-identity azure-keyvault-secrets`"
        ) from None
    try:
        client = SecretClient(vault_url=f"https://{vault}.vault.azure.net", credential=DefaultAzureCredential())
        return client.get_secret(name).value or ""
    except Exception as exc:  # the Azure SDK raises many types; the name is enough for the user
        raise ConfigError(f"{shown}: {key}: Azure secret {name!r} in vault {vault!r} could not be read ({type(exc).__name__})") from None
