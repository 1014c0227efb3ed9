"""The dbt project: it parses, is documented, tests every grain, and its test macros work.

Tests that need Spark run dbt in this process through `run_dbt`, so dbt reuses the suite's one
Spark session (and its Derby metastore) instead of starting a second one.
"""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from extract_load.dbt_runner import dbt_env, project_dir, run_dbt

PII_COLUMNS = {"email", "first_name", "last_name", "phone", "user_id", "firstname", "lastname"}


@pytest.fixture(scope="module")
def manifest(base_config):
    result = run_dbt(base_config, ["parse"])
    assert result.success, result.exception
    return result.result


def _own_models(manifest):
    return {uid: node for uid, node in manifest.nodes.items()
            if node.resource_type == "model" and node.package_name == "elt"}


def _tests_on(manifest, model_uid):
    return [node for node in manifest.nodes.values()
            if node.resource_type == "test" and model_uid in node.depends_on.nodes]


def test_dbt_env_points_dbt_at_the_loaders_catalog(base_config):
    from extract_load.spark import spark_conf

    env = dbt_env(base_config)
    conf = spark_conf(base_config)
    assert env["ELT_SPARK_JARS"] == conf["spark.jars"]
    assert env["ELT_WAREHOUSE_DIR"] == conf["spark.sql.warehouse.dir"]
    assert env["ELT_METASTORE_URL"] == conf["spark.hadoop.javax.jdo.option.ConnectionURL"]
    assert env["ELT_LAKEHOUSE_ROOT"] == base_config.lakehouse_root.rstrip("/")
    assert env["ELT_DBT_TARGET"] == base_config.dbt.target
    assert Path(env["DBT_PROFILES_DIR"], "profiles.yml").is_file()


def test_parse_succeeds(manifest):
    models = _own_models(manifest)
    assert any(node.name.startswith("stg_") for node in models.values())
    assert any(node.fqn[1] == "marts" for node in models.values())


def test_every_model_and_column_is_described(manifest):
    missing = []
    for node in _own_models(manifest).values():
        if not node.description.strip():
            missing.append(node.name)
        if not node.columns:
            missing.append(f"{node.name}: no columns documented")
        missing += [f"{node.name}.{name}" for name, column in node.columns.items() if not column.description.strip()]
    for source in manifest.sources.values():
        if source.package_name != "elt":
            continue
        if not source.description.strip():
            missing.append(f"source {source.source_name}.{source.name}")
        missing += [f"source {source.source_name}.{source.name}.{name}"
                    for name, column in source.columns.items() if not column.description.strip()]
    assert not missing, f"undocumented: {missing}"


def test_every_mart_states_its_grain_and_tests_it(manifest):
    problems = []
    for uid, node in _own_models(manifest).items():
        if node.fqn[1] != "marts":
            continue
        if "grain:" not in node.description.lower():
            problems.append(f"{node.name}: description does not state the grain")
        grain_tests = [t for t in _tests_on(manifest, uid)
                       if t.test_metadata and t.test_metadata.name in ("unique", "unique_combination_of_columns")]
        if not grain_tests:
            problems.append(f"{node.name}: no uniqueness test on its grain")
    assert not problems, problems


def test_key_tests_are_errors_and_business_rules_warn(manifest):
    problems = []
    for node in manifest.nodes.values():
        if node.resource_type != "test" or node.package_name != "elt" or not node.test_metadata:
            continue
        name = node.test_metadata.name
        severity = str(node.config.severity).lower()
        if name in ("not_null", "unique_combination_of_columns") and severity != "error":
            problems.append(f"{node.name}: key test should be an error")
        if name in ("not_null_proportion", "non_negative", "valid_email", "amount_present_for_stages"):
            if severity != "warn" or not node.config.store_failures:
                problems.append(f"{node.name}: business rule should warn and store failures")
    assert not problems, problems


def test_every_bronze_table_is_a_source_with_freshness(manifest):
    sources = [s for s in manifest.sources.values() if s.package_name == "elt" and s.schema == "bronze"]
    assert sources
    for source in sources:
        if source.name.endswith("__rejects"):
            continue
        assert source.loaded_at_field == "_loaded_at", source.name
        assert source.freshness and source.freshness.warn_after.count and source.freshness.error_after.count, source.name


def test_rejects_tables_warn_when_not_empty(manifest):
    rejects = [s for s in manifest.sources.values() if s.package_name == "elt" and s.name.endswith("__rejects")]
    assert rejects
    for source in rejects:
        tests = [t for t in _tests_on(manifest, source.unique_id) if t.test_metadata]
        assert any(t.test_metadata.name == "row_count_between" and t.test_metadata.kwargs.get("max_count") == 0
                   and str(t.config.severity).lower() == "warn" for t in tests), source.name


def test_pii_is_tagged_in_silver_and_absent_from_gold(manifest):
    problems = []
    for node in _own_models(manifest).values():
        for name, column in node.columns.items():
            if node.fqn[1] == "staging" and name in PII_COLUMNS and column.meta.get("pii") is not True:
                problems.append(f"{node.name}.{name}: PII column not tagged meta.pii")
            if node.fqn[1] == "marts" and name in PII_COLUMNS:
                problems.append(f"{node.name}.{name}: raw PII column in gold")
    assert not problems, problems


def test_unit_tests_pass(spark, base_config, manifest):
    expected = {uid for uid, test in manifest.unit_tests.items() if test.package_name == "elt"}
    assert len(expected) >= 5
    result = run_dbt(base_config, ["test", "--select", "test_type:unit"])
    statuses = {r.node.unique_id: str(r.status) for r in result.result.results
                if r.node.resource_type == "unit_test"}  # not the on-run-start hook
    assert set(statuses) == expected
    assert all(status == "pass" for status in statuses.values()), statuses
    assert result.success


# --- generic test macros, run against tiny tables in a copy of the project -------------------

_FIXTURE_SQL = {
    "people": """
        select * from values
          ('1', 'a@example.com', 10.0, 'closedwon', 100.0),
          ('2', 'not-an-email', -5.0, 'closedwon', cast(null as double)),
          ('3', cast(null as string), 3.0, 'contractsent', cast(null as double)),
          ('4', 'b@example.org', 0.0, 'closedlost', cast(null as double))
          as t(id, email, spend, stage, amount)
    """,
    "pairs": "select * from values ('a', 1), ('a', 2), ('b', 1), ('b', 1) as t(k1, k2)",
    "empty": "select 'x' as id where false",
}

_FIXTURE_YAML = """
version: 2
sources:
  - name: fixture
    schema: dbt_macro_fixture
    tables:
      - name: people
        data_tests:
          - row_count_between: {arguments: {min_count: 1, max_count: 10}, config: {alias: rc_pass}}
          - row_count_between: {arguments: {min_count: 5}, config: {alias: rc_fail}}
          - unique_combination_of_columns: {arguments: {combination_of_columns: [id, email]}, config: {alias: ucc_pass}}
        columns:
          - name: email
            data_tests:
              - valid_email: {arguments: {allow_missing: true}, config: {alias: email_allow_missing}}
              - valid_email: {arguments: {allow_missing: false}, config: {alias: email_strict}}
              - not_null_proportion: {arguments: {at_least: 0.5}, config: {alias: nnp_pass}}
              - not_null_proportion: {arguments: {at_least: 0.9}, config: {alias: nnp_warn}}
          - name: spend
            data_tests:
              - non_negative: {config: {alias: non_negative_warn}}
          - name: amount
            data_tests:
              - amount_present_for_stages:
                  arguments: {stage_column: stage, stages: [closedwon, contractsent]}
                  config: {alias: amount_present_warn}
      - name: pairs
        data_tests:
          - unique_combination_of_columns: {arguments: {combination_of_columns: [k1, k2]}, config: {alias: ucc_fail}}
      - name: empty
        data_tests:
          - row_count_between: {arguments: {min_count: 0, max_count: 0}, config: {alias: rc_empty_pass}}
"""

# alias -> (status, failures)
_EXPECTED = {
    "rc_pass": ("pass", 0),
    "rc_fail": ("fail", 1),
    "ucc_pass": ("pass", 0),
    "ucc_fail": ("fail", 1),
    "email_allow_missing": ("warn", 1),
    "email_strict": ("warn", 2),
    "nnp_pass": ("pass", 0),
    "nnp_warn": ("warn", 1),
    "non_negative_warn": ("warn", 1),
    "amount_present_warn": ("warn", 2),
    "rc_empty_pass": ("pass", 0),
}


@pytest.fixture(scope="module")
def macro_project(tmp_path_factory, base_config):
    """A copy of the dbt project with only fixture sources and the tests under test."""
    copy = tmp_path_factory.mktemp("dbt_macros") / "dbt_project"
    source = Path(project_dir(base_config))
    shutil.copytree(source, copy, ignore=shutil.ignore_patterns("target", "logs", "models", "seeds", ".user.yml"))
    (copy / "models").mkdir()
    (copy / "models" / "_fixture__sources.yml").write_text(textwrap.dedent(_FIXTURE_YAML))
    return copy


def test_generic_test_macros_fail_exactly_the_bad_rows(spark, base_config, macro_project):
    spark.sql("create database if not exists dbt_macro_fixture")
    for name, sql in _FIXTURE_SQL.items():
        spark.sql(f"create or replace view dbt_macro_fixture.{name} as {sql}")
    ansi_before = spark.conf.get("spark.sql.ansi.enabled")

    result = run_dbt(base_config, ["test", "--project-dir", str(macro_project), "--target-path",
                                   str(macro_project / "target")])

    outcome = {r.node.alias: (str(r.status), r.failures) for r in result.result.results
               if r.node.resource_type == "test"}  # not the on-run-start hook
    assert outcome == _EXPECTED
    from pyspark.sql import SparkSession

    assert SparkSession.getActiveSession() is spark, "dbt started a second Spark session"
    stored = {t.name for t in spark.catalog.listTables("dq_failures")}
    assert {"email_strict", "non_negative_warn", "amount_present_warn"} <= stored
    assert spark.table("dq_failures.non_negative_warn").count() == 1
    assert spark.conf.get("spark.sql.ansi.enabled") == ansi_before, "dbt-spark's ANSI override leaked"
