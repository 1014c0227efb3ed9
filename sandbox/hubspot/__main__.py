"""CLI: python -m sandbox.hubspot up|down|status|serve [options]."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from . import info, is_running, start, stop


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.hubspot",
                                     description="HubSpot CRM stand-in (local sandbox)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, help_text in (("up", "start in the background (no-op when running)"),
                            ("down", "stop the background server"),
                            ("status", "print whether it runs and where"),
                            ("serve", "run in the foreground")):
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--data-dir", type=Path, default=Path("data/sandbox"))
        if name in ("up", "serve"):
            cmd.add_argument("--host", default="127.0.0.1")
            cmd.add_argument("--port", type=int, default=8765)
            cmd.add_argument("--seed", type=int, default=42)
            cmd.add_argument("--scale", type=float, default=1)
            cmd.add_argument("--contacts", type=int, default=None)
            cmd.add_argument("--token", default="sandbox-token")
            cmd.add_argument("--anchor", default=None, help="ISO time the data ends at")
            cmd.add_argument("--limits", default="{}", help="JSON of /_sandbox/limits settings")
    args = parser.parse_args(argv)
    if args.command == "serve":
        from .server import serve
        scale = int(args.scale) if float(args.scale).is_integer() else args.scale
        serve(host=args.host, port=args.port, seed=args.seed, scale=scale, contacts=args.contacts,
              token=args.token, anchor=args.anchor, **json.loads(args.limits))
        return 0
    if args.command == "up":
        url = start(args.data_dir, port=args.port, seed=args.seed, scale=args.scale,
                    token=args.token, contacts=args.contacts, host=args.host, anchor=args.anchor,
                    **json.loads(args.limits))
        print(url)
        return 0
    if args.command == "down":
        print("stopped" if stop(args.data_dir) else "not running")
        return 0
    running = is_running(args.data_dir)
    print(json.dumps(info(args.data_dir), indent=2) if running else "not running")
    return 0 if running else 3


if __name__ == "__main__":
    sys.exit(main())
