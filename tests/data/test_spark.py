"""The Spark engine (local[2]) against DuckDB: the same SQL text gives the same tables.

One SparkSession for the session, one simulated world of 3,000 customers written as
Parquet, read by both engines. These tests fail (they do not skip) when pyspark or Java is
missing: ``make spark`` installs both, and ``make test`` runs it first.
"""

from __future__ import annotations

import json
import warnings

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import cxlib
from cxlib.analyses import claims
from cxlib.features import metrics
from cxlib.features import panel
from cxlib.models import survival
from cxlib.models.churn import ChurnModel
from cxlib.exceptions import DataError
from cxlib.data.simulate import write_dataset

pytestmark = pytest.mark.spark

CUSTOMERS = 3_000


@pytest.fixture(scope="session")
def spark():
    from cxlib.data import spark as cxspark

    try:
        cxspark._require_spark()
    except (ImportError, RuntimeError) as exc:
        pytest.fail(f"the Spark tests need pyspark and Java 17, which `make spark` (and `make test`) install: {exc}")
    session = cxspark.spark_session("local[2]", conf={"spark.sql.shuffle.partitions": "4"})
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def world(tmp_path_factory, spark):
    """(DuckDB Dataset, SparkDataset, truth, path) of the same Parquet files."""
    from cxlib.data.spark import open_spark

    path = tmp_path_factory.mktemp("spark_world")
    truth = write_dataset(path, CUSTOMERS, seed=21, fmt="parquet")
    duck = cxlib.load(path, as_of=truth["as_of"])
    sdata = open_spark(str(path), spark=spark, as_of=truth["as_of"])
    yield duck, sdata, truth, path
    sdata.close()
    duck.close()


def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Engine-neutral dtypes: numbers as float, timestamps as datetime64[us], text and flags kept."""
    frame = frame.reset_index(drop=True).copy()
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_datetime64_any_dtype(values):
            frame[column] = pd.to_datetime(values).astype("datetime64[us]")
        elif pd.api.types.is_bool_dtype(values) or values.dtype == object:
            # One missing marker: DuckDB gives <NA> in nullable columns, Spark gives None.
            frame[column] = values.astype(object).where(values.notna(), None)
        elif pd.api.types.is_numeric_dtype(values):
            frame[column] = values.astype(float)
    return frame


def assert_same(duck: pd.DataFrame, spark: pd.DataFrame) -> None:
    assert list(duck.columns) == list(spark.columns)
    pd.testing.assert_frame_equal(_normalise(duck), _normalise(spark), check_dtype=False, rtol=1e-9, atol=1e-12)


# ---------------------------------------------------------------------------------------
# One SQL text


def test_transpile_binds_parameters_and_keeps_exact_quantiles():
    from cxlib.data.spark import to_spark_sql

    sql = to_spark_sql(
        'SELECT quantile_cont(m, 0.9) AS q, median(m) AS med FROM t WHERE "at" < $as_of AND n > $n',
        {"as_of": pd.Timestamp("2025-06-30 12:00", tz="Europe/Paris"), "n": 3},
    )
    assert "percentile(m, 0.9)" in sql.lower() and "approx" not in sql.lower()
    assert "'2025-06-30 10:00:00'" in sql  # bound as naive UTC
    assert "$" not in sql and ":as_of" not in sql
    with pytest.raises(KeyError, match="as_of"):
        to_spark_sql("SELECT 1 WHERE x < $as_of", {})


def test_engine_attribute_and_as_of(world):
    duck, sdata, truth, _ = world
    assert duck.engine == "duckdb" and sdata.engine == "spark"
    assert sdata.as_of == duck.as_of
    assert sdata.report.accepted == duck.report.accepted
    assert sdata.report.total_rejected == 0


# ---------------------------------------------------------------------------------------
# The churn panel and the model


def test_aggregated_panel_is_identical(world):
    duck, sdata, _, _ = world
    a, b = panel.aggregate(duck), panel.aggregate(sdata)
    assert len(a) > 10
    assert_same(a, b)
    assert a["events"].sum() == b["events"].sum() and a["intervals"].sum() == b["intervals"].sum()
    assert a["exposure_days"].sum() == pytest.approx(b["exposure_days"].sum(), rel=1e-12)


def test_engagement_panel_is_identical(world):
    """The default model's panel: experience-rate bands and the bands of the window's count of experiences."""
    duck, sdata, _, _ = world
    a, b = (panel.aggregate(d, engagement=True, window_experiences=True) for d in (duck, sdata))
    assert {"engagement", "experiences"} <= set(a.columns) and a["experiences"].nunique() > 3
    assert_same(a, b)
    assert a["exposure_days"].sum() == pytest.approx(b["exposure_days"].sum(), rel=1e-12)


def test_hazard_ratios_are_identical(world):
    duck, sdata, _, _ = world
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m1, m2 = ChurnModel().fit(duck), ChurnModel().fit(sdata)
    assert m1.n_events_ == m2.n_events_
    assert m1.exposure_days_ == pytest.approx(m2.exposure_days_, rel=1e-12)
    pd.testing.assert_series_equal(m1.hazard_ratios_, m2.hazard_ratios_, rtol=1e-8)
    pd.testing.assert_frame_equal(m1.confidence_intervals_, m2.confidence_intervals_, rtol=1e-8)


def test_sampled_intervals_are_identical(world):
    """A sample of customer ids is registered as a view in either engine."""
    duck, sdata, _, _ = world
    from cxlib.features.panel import sample_customers

    ids = sample_customers(duck, 50, seed=1)
    assert ids == sample_customers(sdata, 50, seed=1)
    a = panel.intervals(duck, customers=ids)
    b = panel.intervals(sdata, customers=ids)
    assert a["customer_id"].nunique() <= 50 and len(a) > 50
    assert_same(a, b)


# ---------------------------------------------------------------------------------------
# Metrics, claims, survival


METRICS = {
    "bad_rate_touchpoint": lambda d: metrics.bad_rate(d, by="touchpoint"),
    "bad_rate_touchpoint_channel": lambda d: metrics.bad_rate(d, by=("touchpoint", "channel")),
    "service_metrics_month": lambda d: metrics.service_metrics(d, by="month"),
    "service_metrics_channel": lambda d: metrics.service_metrics(d, by="channel"),
    "contact_causes": lambda d: metrics.contact_causes(d, by="channel"),
    "follow_up": lambda d: metrics.bad_experience_follow_up(d, by="touchpoint"),
    "overview": metrics.overview,
    "outcome_mix": lambda d: metrics.outcome_mix(d, by="touchpoint"),
    "recent_bad_experiences": metrics.recent_bad_experiences,
    "journey_transitions": metrics.journey_transitions,
    "churn_paths": lambda d: metrics.churn_paths(d, steps=2, top=5),
    "churn_after_first_bad": lambda d: claims.churn_after_nth_bad(d, 1),
    "reference_churn": lambda d: claims.reference_churn(d, step_days=60),
    "outcome_groups": lambda d: claims.outcome_groups(d),
    "landmark_cohort": lambda d: survival.landmark_cohort(d),
}


@pytest.mark.parametrize("name", list(METRICS))
def test_metrics_are_identical(world, name):
    duck, sdata, _, _ = world
    a, b = METRICS[name](duck), METRICS[name](sdata)
    assert len(a) > 0
    if name == "overview":
        a, b = a.astype(str), b.astype(str)
        pd.testing.assert_frame_equal(a, b)
    else:
        assert_same(a, b)


def test_cx_churn_engine_spark_matches_duckdb(world, capsys):
    _, _, truth, path = world
    from cxlib.run.cli import main

    assert main(["churn", str(path), "--json", "--as-of", truth["as_of"]]) == 0
    duck = json.loads(capsys.readouterr().out)
    assert main(["churn", str(path), "--json", "--as-of", truth["as_of"], "--engine", "spark"]) == 0
    spark = json.loads(capsys.readouterr().out)
    assert duck["events"] == spark["events"]
    for name, c in duck["covariates"].items():
        if c["hazard_ratio"] is None:  # not estimable on this world: on both engines
            assert spark["covariates"][name]["hazard_ratio"] is None, name
            continue
        assert spark["covariates"][name]["hazard_ratio"] == pytest.approx(c["hazard_ratio"], rel=1e-8)


def _approx(value, rel=1e-6):
    """``value`` with every float wrapped in pytest.approx (sums run in another order on Spark)."""
    if isinstance(value, dict):
        return {k: _approx(v, rel) for k, v in value.items()}
    if isinstance(value, list):
        return [_approx(v, rel) for v in value]
    if isinstance(value, float):
        return pytest.approx(value, rel=rel, abs=1e-9)
    return value


def test_cx_roi_and_risk_engine_spark_match_duckdb(world, capsys, tmp_path):
    _, _, truth, path = world
    from cxlib.run.cli import main

    common = [str(path), "--as-of", truth["as_of"]]
    roi_args = ["roi", *common, "--json", "--draws", "30", "--process-draws", "0"]
    assert main(roi_args) == 0
    duck = json.loads(capsys.readouterr().out)
    assert main([*roi_args, "--engine", "spark", "--spark-master", "local[2]"]) == 0
    spark = json.loads(capsys.readouterr().out)
    assert duck["baseline"]["customers"] == spark["baseline"]["customers"] > 1000
    assert len(duck["scenarios"]) >= 3
    assert spark["scenarios"] == _approx(duck["scenarios"])

    assert main(["risk", *common, "--top", "25", "--out", str(tmp_path / "duck.csv")]) == 0
    assert main(["risk", *common, "--top", "25", "--out", str(tmp_path / "spark.csv"), "--engine", "spark"]) == 0
    a, b = pd.read_csv(tmp_path / "duck.csv"), pd.read_csv(tmp_path / "spark.csv")
    assert len(a) == 25
    pd.testing.assert_frame_equal(a, b)


def test_cx_run_with_engine_spark_renders_the_whole_report(world, tmp_path):
    """`cx run -p engine=spark`: every notebook executes on Spark (its own local session per
    kernel) and the report renders; the run records the engine and Spark's fingerprint."""
    from cxlib.run.runner import NOTEBOOKS, run

    duck, _, truth, path = world
    result = run(
        str(path),
        overrides={"engine": "spark", "as_of": truth["as_of"], "draws": 20, "whatif_draws": 2, "cox_sample": 300},
        out=tmp_path / "reports",
    )
    assert result.status == "ok"
    record = json.loads((result.run_dir / "run.json").read_text())
    assert [n["notebook"] for n in record["notebooks"]] == list(NOTEBOOKS)
    assert record["effective_parameters"]["engine"] == "spark"
    assert record["data"]["engine"] == "spark"
    assert record["data"]["customers"] == duck.report.accepted["customers"]
    assert record["data"]["interactions"] == duck.report.accepted["interactions"]
    html = result.report.read_text()
    assert "Revenue retained" in html or "revenue retained" in html
    assert "engine=&#x27;spark&#x27;" in html or "engine='spark'" in html, "the footer names the engine"
    assert "WARN " not in html, "Spark's log lines stay out of the report"


# ---------------------------------------------------------------------------------------
# What the Spark path checks


def test_row_level_rules_are_counted_and_left_out(tmp_path, spark):
    from cxlib.data.spark import open_spark

    t = pd.Timestamp
    pq.write_table(
        pa.Table.from_pandas(
            pd.DataFrame(
                {
                    "customer_id": [" c1 ", "c2", "c3"],
                    "signup_at": ["2024-01-01T00:00:00Z", "2024-01-02T02:00:00+02:00", "not a date"],
                    "churned_at": [None, "2024-03-01", None],
                    "segment": ["", "b2b", "b2c"],
                    "monthly_value": [10.0, -1.0, 5.0],
                }
            ),
            preserve_index=False,
        ),
        tmp_path / "customers.parquet",
    )
    pq.write_table(
        pa.Table.from_pandas(
            pd.DataFrame(
                {
                    "interaction_id": ["i1", "i2", "i3"],
                    "customer_id": ["c1", "c1", "c1"],
                    "at": [t("2024-02-01", tz="UTC")] * 3,
                    "kind": [" Experience", "service", "oops"],
                    "channel": ["Web", "phone", "web"],
                    "touchpoint": ["billing", "billing", "billing"],
                    "outcome": ["BAD", "good", "bad"],
                    "resolved": [None, True, None],
                }
            ),
            preserve_index=False,
        ),
        tmp_path / "interactions.parquet",
        coerce_timestamps="us",  # Spark reads no nanosecond timestamps (see the next test)
    )
    data = open_spark(str(tmp_path), spark=spark)
    r = data.report
    assert (r.read["customers"], r.accepted["customers"], r.rejected["customers"]) == (3, 1, 2)
    assert (r.read["interactions"], r.accepted["interactions"], r.rejected["interactions"]) == (3, 2, 1)
    customers = data.query("SELECT customer_id, signup_at, segment FROM customers")
    assert customers.to_dict("records") == [{"customer_id": "c1", "signup_at": t("2024-01-01"), "segment": "all"}]
    kinds = data.query("SELECT kind, channel, outcome FROM interactions ORDER BY kind")
    assert kinds.values.tolist() == [["experience", "web", "bad"], ["service", "phone", "good"]]
    data.close()


CUSTOMERS_CSV = """customer_id,signup_at,churned_at,segment,monthly_value
c1,2024-01-01T00:00:00Z,,smb,10
 c2 ,2024-01-02 02:00:00+02:00,2024-06-01,,20.5
c3,not a date,,smb,5
c4,2024-01-03,2023-12-31,smb,5
c5,2024-01-04,,smb,-1
c6,2024-01-05,,smb,ten
,2024-01-06,,smb,3
c8,2024-01-07,garbage,smb,3
c9,2024-01-08,,Enterprise,inf
"""
INTERACTIONS_CSV = """interaction_id,customer_id,at,kind,channel,touchpoint,outcome,resolved,csat,nps,first_response_minutes,cost
i1,c1,2024-02-01T10:00:00Z, Experience ,Web,billing,BAD,,,,,
i2,c1,2024-02-02 10:00:00,service,phone,billing,good,yes,5,9,12.5,3.2
i3,c1,2024-02-03,oops,web,billing,bad,,,,,
i4,c1,2024-02-04,service,web,billing,good,maybe,,,,
i5,c1,2024-02-05,experience,web,billing,good,true,,,,
i6,c1,2024-02-06,service,web,billing,good,no,6,,,
i7,c1,2024-02-07,service,web,billing,good,0,4.5,,,
i8,c1,2024-02-08,service,web,billing,good,1,,11,,
i9,c1,2024-02-09,experience,web,billing,good,,,,30,
i10,c1,2024-02-10,service,web,billing,good,F,,,-3,
i11,c1,2024-02-11,service,web,billing,good,T,3,7,,-1
i12,c1,,experience,web,billing,good,,,,,
i13,c1,2024-02-13,experience,,billing,neutral,,,,,
i14,c2,2024-02-14 23:30:00-02:00,Service,Email,Delivery,Neutral,TRUE,2,0,0.5,0
i15,c2,2024-02-15,service,email,delivery,good,true,,,nan,
"""


def test_both_engines_accept_and_type_the_same_rows(tmp_path, spark):
    """One definition of the row rules: the loader's expressions, transpiled, keep the same rows
    with the same typed values on Spark (the cross-row rules are DuckDB's alone: none here)."""
    from cxlib.data.spark import open_spark

    (tmp_path / "customers.csv").write_text(CUSTOMERS_CSV)
    (tmp_path / "interactions.csv").write_text(INTERACTIONS_CSV)
    duck = cxlib.load(tmp_path)
    sdata = open_spark(str(tmp_path), spark=spark)
    try:
        assert duck.report.rejected == sdata.report.rejected
        assert duck.report.accepted == sdata.report.accepted
        assert duck.report.rejected == {"customers": 7, "interactions": 12}, duck.rejects
        for table, key in (("customers", "customer_id"), ("interactions", "interaction_id")):
            sql = f"SELECT * FROM {table} ORDER BY {key}"
            assert_same(duck.query(sql), sdata.query(sql))
    finally:
        sdata.close()
        duck.close()


def test_missing_required_column_names_it(tmp_path, spark):
    from cxlib.data.spark import open_spark

    pq.write_table(pa.table({"customer_id": ["c1"], "monthly_value": [1.0]}), tmp_path / "customers.parquet")
    pq.write_table(pa.table({"interaction_id": ["i1"]}), tmp_path / "interactions.parquet")
    with pytest.raises(DataError, match="signup_at"):
        open_spark(str(tmp_path), spark=spark)
    with pytest.raises(DataError, match="no such"):
        open_spark(str(tmp_path / "nowhere"), spark=spark)
    nanos = tmp_path / "nanos"
    nanos.mkdir()
    pq.write_table(pa.table({"customer_id": ["c1"], "signup_at": pa.array([0], pa.timestamp("ns", "UTC")),
                             "churned_at": pa.array([None], pa.timestamp("ns", "UTC")), "monthly_value": [1.0]}),
                   nanos / "customers.parquet")
    with pytest.raises(DataError, match="unreadable Parquet.*customers"):
        open_spark(str(nanos), spark=spark).query("SELECT count(*) FROM customers")


def test_engine_choice_is_checked():
    from cxlib.run.notebook import open_data

    with pytest.raises(ValueError, match="engine"):
        open_data("x", engine="pandas")


# ---------------------------------------------------------------------------------------
# ROI and churn risk


def test_roi_inputs_are_identical(world):
    """What roi.evaluate measures (the base, known bad experiences, rates, follow-up) matches."""
    from cxlib.features import roi_inputs

    duck, sdata, _, _ = world
    a, b = roi_inputs.measure(duck), roi_inputs.measure(sdata)
    assert len(a.customers) > 1000 and len(a.known) > 100
    for name in ("customers", "known", "rates"):
        assert_same(getattr(a, name), getattr(b, name))
    assert a.follow_up == b.follow_up and a.follow_up["resolved"] > 0
    assert a.delays.tolist() == b.delays.tolist()
    assert a.exposure_early == pytest.approx(b.exposure_early, rel=1e-12)
    assert a.exposure_settled == pytest.approx(b.exposure_settled, rel=1e-12)
    fa, fb = a.first_response, b.first_response
    assert fa["contacts"] == fb["contacts"] > 100
    assert fa["slope"] == pytest.approx(fb["slope"], rel=1e-8)


def test_roi_sample_of_contacts_is_the_same_on_both_engines(world):
    """Past max_rows the first-response regression samples by md5 of the id: the same rows on both."""
    from cxlib.features import roi_inputs

    duck, sdata, _, _ = world
    lit = f"TIMESTAMP '{duck.as_of.isoformat(sep=' ')}'"
    start = "TIMESTAMP '2000-01-01 00:00:00'"
    a = roi_inputs.first_response_link(duck, lit, start, alpha=0.05, max_rows=300)
    b = roi_inputs.first_response_link(sdata, lit, start, alpha=0.05, max_rows=300)
    assert a["contacts"] == b["contacts"] == 300
    assert a["_frt"].tolist() == b["_frt"].tolist()
    assert a["slope"] == pytest.approx(b["slope"], rel=1e-8)


def test_roi_evaluation_is_identical(world):
    from cxlib.analyses import roi
    from cxlib.models.churn import ChurnModel

    duck, sdata, _, _ = world
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        a = roi.evaluate(duck, model=ChurnModel().fit(duck), draws=40, process_draws=10, seed=3)
        b = roi.evaluate(sdata, model=ChurnModel().fit(sdata), draws=40, process_draws=10, seed=3)
    assert len(a.table) >= 3
    pd.testing.assert_frame_equal(a.table, b.table, rtol=1e-6)


def test_risk_features_and_labels_are_identical(world):
    from cxlib.features import risk

    duck, sdata, _, _ = world
    assert risk.touchpoints_with_bad(duck, as_of=duck.as_of) == risk.touchpoints_with_bad(sdata, as_of=sdata.as_of)
    a, b = risk.features(duck), risk.features(sdata)
    assert len(a) > 1000 and a["unresolved"].sum() > 0 and a["last_csat"].notna().sum() > 0
    assert_same(a, b)
    cutoff = duck.as_of - pd.Timedelta(days=200)
    assert_same(risk.labels(duck, as_of=cutoff), risk.labels(sdata, as_of=cutoff))


def test_risk_list_is_identical(world):
    from cxlib.models.risk import RiskModel
    from cxlib.present.risk import risk_list

    duck, sdata, _, _ = world
    duck_model, spark_model = RiskModel().fit(duck), RiskModel().fit(sdata)
    a, b = risk_list(duck_model.rank(duck), duck_model), risk_list(spark_model.rank(sdata), spark_model)
    assert len(a) > 1000
    assert a["customer_id"].tolist() == b["customer_id"].tolist()
    pd.testing.assert_series_equal(a["probability"], b["probability"], rtol=1e-9)
    assert a["reason"].tolist() == b["reason"].tolist()


# ---------------------------------------------------------------------------------------
# One engine protocol


def test_both_engines_are_engines_and_answer_alike(tmp_path, spark):
    """Dataset and SparkDataset satisfy the one Engine protocol, opened the one way, and answer
    the protocol's calls alike on one small world (300 customers)."""
    from cxlib.data.engine import Engine
    from cxlib.data.open import open_data

    truth = write_dataset(tmp_path, 300, seed=4, fmt="parquet")
    duck = open_data(tmp_path)
    sdata = open_data(str(tmp_path), engine="spark")
    try:
        assert sdata.spark is spark, "the session in use is reused"
        for data in (duck, sdata):
            assert isinstance(data, Engine)
        assert (duck.engine, sdata.engine) == ("duckdb", "spark")
        assert duck.as_of == sdata.as_of <= pd.Timestamp(truth["as_of"]).tz_localize(None)
        assert duck.report.accepted == sdata.report.accepted and duck.report.rejected == sdata.report.rejected
        ids = duck.query("SELECT customer_id FROM customers ORDER BY customer_id LIMIT 25")
        sql = """SELECT s.customer_id, count(i.interaction_id) AS n, max(i."at") AS last
                 FROM cx_engine_ids s LEFT JOIN interactions i USING (customer_id)
                 WHERE i."at" IS NULL OR i."at" < $cut GROUP BY 1 ORDER BY 1"""
        cut = duck.as_of - pd.Timedelta(days=100)
        answers = []
        for data in (duck, sdata):
            data.register("cx_engine_ids", ids)
            answers.append(data.query(sql, {"cut": cut}))
            data.unregister("cx_engine_ids")
        assert len(answers[0]) > 0
        assert_same(*answers)
        fd, fs = duck.fingerprint(), sdata.fingerprint()
        assert fd.keys() == fs.keys()
        assert {k: fd[k] for k in fd if k != "sha256"} == {k: fs[k] for k in fs if k != "sha256"}
    finally:
        sdata.close()
        duck.close()
    assert not spark.catalog.tableExists("cx_engine_ids")
