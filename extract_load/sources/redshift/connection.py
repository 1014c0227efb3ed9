"""Connecting to Redshift (password or IAM auth, TLS) and naming a failure in one line."""
from __future__ import annotations

from typing import Any

from extract_load.errors import SourceError

from . import settings
from .config import RedshiftConfig


def connection_kwargs(rs: RedshiftConfig) -> dict:
    """Keyword arguments for `redshift_connector.connect` from the config (password included)."""
    kwargs: dict[str, Any] = {"database": rs.database, "port": rs.port, "timeout": settings.CONNECT_TIMEOUT_S}
    if rs.host:
        kwargs["host"] = rs.host
    if rs.auth == "iam":
        # the driver calls GetClusterCredentials for db_user with the AWS credential chain (or profile)
        kwargs.update(iam=True, cluster_identifier=rs.cluster_identifier, region=rs.region,
                      db_user=rs.db_user or rs.username, user=rs.db_user or rs.username or "",
                      password="")
        if rs.aws_profile:
            kwargs["profile"] = rs.aws_profile
    else:
        kwargs.update(user=rs.username, password=rs.password.get_secret_value() if rs.password else None)
    if rs.ssl.enabled:
        # explicit verify-full: the driver's own default only warns on a host name mismatch
        kwargs.update(ssl=True, sslmode="verify-full" if rs.ssl.verify else "verify-ca")
    else:
        kwargs["ssl"] = False
    return kwargs


def describe_target(rs: RedshiftConfig) -> str:
    host = rs.host or f"cluster {rs.cluster_identifier} ({rs.region})"
    return f"host {host}:{rs.port} database {rs.database}"


def one_line_cause(exc: BaseException, secret: str | None = None) -> str:
    """The driver's error as one line: the server's message (`M`) when there is one."""
    args = getattr(exc, "args", ())
    message = ""
    if args and isinstance(args[0], dict):
        message = str(args[0].get("M") or args[0])
    elif args:
        message = " ".join(str(a) for a in args if a is not None)
        inner = getattr(exc, "__cause__", None) or (args[-1] if isinstance(args[-1], BaseException) else None)
        if isinstance(inner, BaseException) and str(inner) not in message:
            message += f" ({inner})"
    message = message or type(exc).__name__
    message = " ".join(message.split())
    if secret:
        message = message.replace(secret, "***")
    return message


def connect(rs: RedshiftConfig):
    """An autocommit connection; raises SourceError (one line: host, database, cause)."""
    import redshift_connector

    kwargs = connection_kwargs(rs)
    secret = rs.password.get_secret_value() if rs.password else None
    try:
        conn = redshift_connector.connect(**kwargs)
        conn.autocommit = True  # each chunk query is its own snapshot: no transaction held across a load
        return conn
    except Exception as exc:  # the driver raises many types (InterfaceError, ProgrammingError, OSError, boto)
        raise SourceError(f"Redshift connection failed ({describe_target(rs)}): {one_line_cause(exc, secret)}") from None
