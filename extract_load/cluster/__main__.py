"""`python -m extract_load.cluster up|down|status`: the local cluster of `make cluster-up`."""
from __future__ import annotations

import argparse
import sys

from extract_load.config import load_config
from extract_load.errors import ConfigError, PipelineError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m extract_load.cluster",
                                     description="Spark standalone + S3 (moto) + PostgreSQL metastore + Thrift Server on loopback")
    parser.add_argument("action", choices=["up", "down", "status"])
    parser.add_argument("--env", default=None, help="environment (default: $ELT_ENV, else cluster)")
    parser.add_argument("--config", metavar="PATH", help="a config file outside config/")
    parser.add_argument("--dir", default="data/cluster", help="where the services keep data, logs and pids")
    args = parser.parse_args(argv)
    from extract_load.cluster import local

    try:
        config = load_config(env=args.env or "cluster", path=args.config)
        root = config.path(args.dir)
        if args.action == "up":
            ports = local.up(config, root)
            print(f"cluster up ({root}): spark://127.0.0.1:{ports['spark_port']}, "
                  f"s3 http://127.0.0.1:{ports['s3_port']} bucket {ports['bucket']}, "
                  f"metastore postgresql 127.0.0.1:{ports['pg_port']}, thrift 127.0.0.1:{ports['thrift_port']}")
        elif args.action == "down":
            stopped = local.down(root)
            print(f"cluster down: stopped {', '.join(stopped) or 'nothing (not running)'}")
        else:
            for name, alive in local.status(root).items():
                print(f"{name:14} {'running' if alive else 'stopped'}")
        return 0
    except (ConfigError, PipelineError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, ConfigError) else 1


if __name__ == "__main__":
    sys.exit(main())
