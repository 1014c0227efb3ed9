"""Running beyond one machine: object-store lakehouses, shared metastores, a Spark cluster.

`storage` and `metastore` turn an environment's config into the Spark settings and connector
jars it needs (used by `extract_load.spark` for every environment; `extract_load.thriftserver`
starts a Spark Thrift Server with those same settings for dbt's `thrift` target). A whole cluster on loopback
(`make cluster-up`, for the tests and for trying production mode on a laptop) is a stand-in, so
it lives with the sandbox (`sandbox/cluster.py`).
"""
