"""`python -m sandbox up|down|status [--env ENV | --config PATH]`: both stand-ins at once."""
from __future__ import annotations

import argparse
import logging
import sys

from extract_load.config import load_config
from extract_load.errors import PipelineError


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Local stand-ins for Redshift and HubSpot.")
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--env")
    parser.add_argument("--config")
    parser.add_argument("--events", type=int, help="customer_behavior rows on first seeding (benchmarks)")
    parser.add_argument("--contacts", type=int, help="HubSpot contacts (benchmarks)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")
    from sandbox import services

    try:
        config = load_config(env=args.env, path=args.config)
        if args.action == "up":
            where = services.up(config, events=args.events, contacts=args.contacts)
            print(f"sandbox up: Redshift stand-in 127.0.0.1:{where['redshift']['port']}, HubSpot stand-in {where['hubspot']}")
        elif args.action == "down":
            services.down(config)
            print("sandbox down")
        else:
            for name, running in services.status(config).items():
                print(f"{name}: {'running' if running else 'stopped'}")
    except (PipelineError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
