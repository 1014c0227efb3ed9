"""Landing extracted data in the lakehouse: bronze MERGE, incremental state, run metrics."""
