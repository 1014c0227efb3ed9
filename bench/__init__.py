"""Benchmarks of the pipeline on sandbox data: `python -m bench` (`make bench`). See README.md here."""
