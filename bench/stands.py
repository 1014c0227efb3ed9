"""The stand-ins the benchmark runs against: its own instances, data dirs and free ports.

One PostgreSQL (behind pgbouncer) holds one database per event count, seeded once with the
fixed seed and reused by later runs (checked by row count); steps that change data (the
incremental dbt step, the end-to-end job) work on a file-level copy (`CREATE DATABASE ...
TEMPLATE`). The HubSpot stand-in is in memory: each start re-seeds it from the seed.
"""
from __future__ import annotations

import json
import socket
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from bench.progress import say

HOST = "127.0.0.1"
_no_proxy = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def free_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


@dataclass
class Redshift:
    data_dir: Path
    port: int      # pgbouncer: what the loaders (and the peer) connect to
    pg_port: int   # PostgreSQL itself: administration only
    seed: int
    info: dict

    def conn(self, database: str) -> dict:
        return {**self.info, "database": database}

    def dsn(self, database: str) -> str:
        return (f"postgresql+psycopg2://{self.info['user']}:{self.info['password']}@{HOST}:{self.port}/{database}")

    def _admin(self):
        import psycopg2

        conn = psycopg2.connect(host=HOST, port=self.pg_port, user=self.info["user"],
                                password=self.info["password"], dbname="postgres")
        conn.autocommit = True
        return conn

    def _state_file(self) -> Path:
        return self.data_dir / "bench_databases.json"

    def events_database(self, events: int) -> str:
        """A database with exactly `events` customer_behavior rows (seeded once, then reused)."""
        from sandbox.redshift import generate
        from sandbox.redshift.db import ensure_database

        name = f"bench_ev_{events}_s{self.seed}"
        state = json.loads(self._state_file().read_text()) if self._state_file().exists() else {}
        if name in state and self._count(name) == state[name]["customer_behavior"]:
            say(f"redshift: reusing database {name} ({events:,} events)")
            return name
        say(f"redshift: seeding database {name} with {events:,} events (seed {self.seed}) ...")
        started = time.monotonic()
        ensure_database(self.conn(name))
        counts = generate.seed(self.conn(name), seed=self.seed, events=events)
        state[name] = counts
        self._state_file().write_text(json.dumps(state, indent=2) + "\n")
        say(f"redshift: seeded {name} in {time.monotonic() - started:.0f} s: {counts}")
        return name

    def _count(self, database: str) -> int | None:
        import psycopg2

        try:
            conn = psycopg2.connect(host=HOST, port=self.pg_port, user=self.info["user"],
                                    password=self.info["password"], dbname=database)
        except psycopg2.OperationalError:
            return None
        try:
            with conn.cursor() as cur:
                cur.execute("SELECT count(*) FROM public.customer_behavior")
                return cur.fetchone()[0]
        except psycopg2.Error:
            return None
        finally:
            conn.close()

    def copy_database(self, template: str, name: str) -> str:
        """A fresh file-level copy of `template` named `name` (replacing any earlier one)."""
        conn = self._admin()
        try:
            with conn.cursor() as cur:
                for db in (template, name):  # pgbouncer keeps idle server connections open
                    cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                "WHERE datname = %s AND pid <> pg_backend_pid()", (db,))
                cur.execute(f'DROP DATABASE IF EXISTS "{name}"')
                cur.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        finally:
            conn.close()
        return name


def start_redshift(root: Path, seed: int) -> Redshift:
    import sandbox.redshift as redshift

    data_dir = root / "redshift"
    redshift.stop(data_dir)  # ports are chosen afresh each run
    port, pg_port = free_ports(2)
    say(f"redshift stand-in: starting in {data_dir} (pgbouncer {port}, postgres {pg_port}) ...")
    # the default database stays tiny: every measured size has a database of its own
    info = redshift.start(data_dir, port=port, pg_port=pg_port, seed=seed, scale=1, events=1000)
    return Redshift(data_dir, port, pg_port, seed, info)


def stop_redshift(root: Path) -> None:
    import sandbox.redshift as redshift

    redshift.stop(root / "redshift")


@dataclass
class HubSpot:
    data_dir: Path
    url: str
    token: str

    def admin(self, method: str, path: str, payload: dict | None = None) -> dict:
        data = json.dumps(payload).encode() if payload is not None else None
        request = urllib.request.Request(f"{self.url}/_sandbox/{path}", data=data, method=method,
                                         headers={"Content-Type": "application/json"})
        with _no_proxy.open(request, timeout=60) as response:
            return json.loads(response.read() or b"{}")


def start_hubspot(root: Path, seed: int, contacts: int, budget: int) -> HubSpot:
    import sandbox.hubspot as hubspot

    data_dir = root / "hubspot-stand-in"
    hubspot.stop(data_dir)
    port = free_port()
    token = "bench-token"
    say(f"hubspot stand-in: starting on port {port} with {contacts:,} contacts, {budget} requests / 10 s ...")
    url = hubspot.start(data_dir, port=port, seed=seed, token=token, contacts=contacts,
                        ten_second_budget=budget)
    return HubSpot(data_dir, url, token)


def stop_hubspot(root: Path) -> None:
    import sandbox.hubspot as hubspot

    hubspot.stop(root / "hubspot-stand-in")
