"""`python -m sandbox up|down|status|demo [--env ENV | --config PATH]`: the local stand-ins, and the
main job on them; `python -m sandbox cluster up|down|status`: the local production-shaped cluster."""
from __future__ import annotations

import argparse
import logging
import sys

from extract_load.errors import ConfigError, PipelineError
from extract_load.sources.registry import load_config


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Local stand-ins for Redshift and HubSpot.")
    parser.add_argument("action", choices=["up", "down", "status", "demo", "cluster"])
    parser.add_argument("cluster_action", nargs="?", choices=["up", "down", "status"],
                        help="with `cluster`: start, stop or list the local cluster's services")
    parser.add_argument("--env")
    parser.add_argument("--config")
    parser.add_argument("--events", type=int, help="customer_behavior rows on first seeding (benchmarks)")
    parser.add_argument("--contacts", type=int, help="HubSpot contacts (benchmarks)")
    parser.add_argument("--skip-sandbox", action="store_true", help="demo: assume the stand-ins are running")
    parser.add_argument("--debug", action="store_true", help="demo: the JVM's output on the console too")
    parser.add_argument("--dir", default="data/cluster", help="cluster: where its services keep data, logs and pids")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)-7s %(message)s", datefmt="%H:%M:%S")
    for noisy in ("py4j", "dlt", "urllib3", "botocore", "boto3", "redshift_connector", "filelock"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    from sandbox import services

    try:
        if args.action == "cluster":
            return _cluster(args)
        config = load_config(env=args.env, path=args.config)
        if args.action == "up":
            where = services.up(config, events=args.events, contacts=args.contacts)
            print(f"sandbox up: Redshift stand-in 127.0.0.1:{where['redshift']['port']}, HubSpot stand-in {where['hubspot']}")
        elif args.action == "down":
            services.down(config)
            print("sandbox down")
        elif args.action == "demo":
            from sandbox import demo

            return demo.run(config, start_sandbox=not args.skip_sandbox, debug=args.debug)
        else:
            for name, running in services.status(config).items():
                print(f"{name}: {'running' if running else 'stopped'}")
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (PipelineError, RuntimeError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


def _cluster(args) -> int:
    from sandbox import cluster

    if args.cluster_action is None:
        raise ConfigError("python -m sandbox cluster: give up, down or status")
    config = load_config(env=args.env or "cluster", path=args.config)
    root = config.path(args.dir)
    if args.cluster_action == "up":
        ports = cluster.up(config, root)
        print(f"cluster up ({root}): spark://127.0.0.1:{ports['spark_port']}, "
              f"s3 http://127.0.0.1:{ports['s3_port']} bucket {ports['bucket']}, "
              f"metastore postgresql 127.0.0.1:{ports['pg_port']}, thrift 127.0.0.1:{ports['thrift_port']}")
    elif args.cluster_action == "down":
        stopped = cluster.down(root)
        print(f"cluster down: stopped {', '.join(stopped) or 'nothing (not running)'}")
    else:
        for name, alive in cluster.status(root).items():
            print(f"{name:14} {'running' if alive else 'stopped'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
