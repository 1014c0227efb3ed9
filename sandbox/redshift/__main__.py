"""CLI: python -m sandbox.redshift up|down|status|advance|manifest [options]."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import DEFAULT_DATA_DIR, SandboxError, advance, is_running, start, stop, write_manifest
from .server import Layout, conn_info, read_state


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.redshift",
                                     description="The local Redshift stand-in (PostgreSQL + pgbouncer).")
    parser.add_argument("command", choices=["up", "down", "status", "advance", "manifest"])
    parser.add_argument("--data-dir", type=Path, default=DEFAULT_DATA_DIR)
    parser.add_argument("--port", type=int, default=None, help="pgbouncer port, the one clients use (5439)")
    parser.add_argument("--pg-port", type=int, default=None, help="PostgreSQL's own port (5440)")
    parser.add_argument("--seed", type=int, default=None, help="data seed (42); for advance: its own seed")
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--events", type=int, default=None, help="exact event count (overrides scale)")
    parser.add_argument("--hours", type=float, default=1.0, help="advance: how far to move the clock")
    args = parser.parse_args(argv)

    state = read_state(Layout(args.data_dir))
    port = args.port or state.get("port") or 5439
    pg_port = args.pg_port or state.get("pg_port") or 5440
    try:
        if args.command == "up":
            info = start(args.data_dir, port=port, pg_port=pg_port,
                         seed=42 if args.seed is None else args.seed,
                         scale=args.scale, events=args.events)
            print(json.dumps(info))
        elif args.command == "down":
            stop(args.data_dir)
            print(f"stopped ({args.data_dir})")
        elif args.command == "status":
            running = is_running(args.data_dir)
            print(json.dumps({"running": running, "data_dir": str(args.data_dir), **read_state(Layout(args.data_dir))}))
            return 0 if running else 3
        else:
            if not is_running(args.data_dir):
                raise SandboxError(f"the stand-in in {args.data_dir} is not running: run 'up' first")
            info = conn_info(port)
            if args.command == "advance":
                print(json.dumps(advance(info, hours=args.hours, seed=args.seed), default=str))
            write_manifest(args.data_dir, info)
            if args.command == "manifest":
                print(Layout(args.data_dir).manifest.read_text(), end="")
    except SandboxError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
