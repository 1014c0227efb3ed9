"""Run metrics and data-quality results kept as Delta tables in the `ops` schema.

`ops.ingest_runs` (written by every ingest), `ops.dq_results` (dbt test and freshness results,
`dq.py`) and `ops.alerts` (every alert sent) are the monitoring data: the dbt models in
`dbt_project/models/monitoring/` and `python -m extract_load status` read them.
"""
from extract_load.monitoring.dq import DQ_TABLE, parse_dbt_artifacts, record_dq_results
from extract_load.monitoring.history import ensure_ops_tables, read_runs, record_alerts

__all__ = ["DQ_TABLE", "parse_dbt_artifacts", "record_dq_results", "ensure_ops_tables",
           "read_runs", "record_alerts"]
