"""The churn step at scale: cxlib (DuckDB panel + Poisson fit) against lifelines, CSV and Parquet.

    python benchmarks/bench_churn.py [--sizes 100000 1000000] [--formats parquet csv]
                                     [--lifelines-max 100000] [--threads 2] [--out benchmarks/results/churn.md]

Cases, each in its own subprocess (so every peak memory is that case's own, read with
``getrusage`` in the parent as RUSAGE_CHILDREN of a fresh runner process):

- **scan**: a plain DuckDB scan of the same files (count, min and max of every timestamp):
  the floor any engine pays to read them.
- **cxlib**: ``cxlib.load`` (validation into an in-memory DuckDB database), then the panel
  (one SQL query, aggregated to sufficient statistics) and the Poisson fit, timed separately.
- **lifelines**: the usual pandas route: read the files with pandas, build the long
  (start, stop] table with the same definitions in pandas, fit ``CoxTimeVaryingFitter``.
  Above ``--lifelines-max`` customers it is not run; its time is extrapolated from the
  largest size run, and the table says so.

Simulated data are written once under ``--data-dir`` and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

COVARIATES = ["unresolved", "resolved", "segment[enterprise]", "segment[smb]"]


# ---------------------------------------------------------------------------------------- cases


def case_scan(path: Path, fmt: str, threads: int) -> dict:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    reader = "read_parquet" if fmt == "parquet" else "read_csv"
    t0 = time.perf_counter()
    c = con.execute(
        f"SELECT count(*), min(signup_at), max(churned_at) FROM {reader}('{path / f'customers.{fmt}'}')"
    ).fetchall()[0]
    i = con.execute(
        f"""SELECT count(*), min("at"), max("at"), count(*) FILTER (outcome = 'bad')
            FROM {reader}('{path / f'interactions.{fmt}'}')"""
    ).fetchall()[0]
    return {"seconds": time.perf_counter() - t0, "customers": c[0], "interactions": i[0]}


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def case_cxlib(path: Path, fmt: str, threads: int, engagement: bool = True) -> dict:
    import cxlib
    from cxlib.models.churn import ChurnModel

    as_of = json.loads((path / "truth.json").read_text())["as_of"]
    t0, c0 = time.perf_counter(), _cpu_seconds()
    data = cxlib.load(path, as_of=as_of)
    data.con.execute(f"SET threads = {threads}")
    t1, c1 = time.perf_counter(), _cpu_seconds()
    model = ChurnModel(engagement=engagement).fit(data)
    t2, c2 = time.perf_counter(), _cpu_seconds()
    out = {
        "load_seconds": t1 - t0,
        "panel_fit_seconds": t2 - t1,
        # CPU seconds of the process (DuckDB's threads included): on a shared machine they move less than the wall
        "load_cpu_seconds": c1 - c0,
        "panel_fit_cpu_seconds": c2 - c1,
        "seconds": t2 - t0,
        "pattern_rows": len(model.panel_),
        "intervals": model.n_intervals_,
        "events": model.n_events_,
        "hazard_ratios": {k: float(model.hazard_ratios_[k]) for k in COVARIATES},
    }
    data.close()
    return out


def pandas_long_table(path: Path, fmt: str, as_of, window: int = 90, resolution: int = 3, cap: int = 5):
    """The same panel the pandas way (what a lifelines user writes): returns (long table, read seconds)."""
    import numpy as np
    import pandas as pd

    t0 = time.perf_counter()
    if fmt == "parquet":
        customers = pd.read_parquet(path / "customers.parquet", columns=["customer_id", "signup_at", "churned_at", "segment"])
        interactions = pd.read_parquet(
            path / "interactions.parquet", columns=["customer_id", "at", "kind", "touchpoint", "outcome", "resolved"]
        )
    else:
        customers = pd.read_csv(
            path / "customers.csv", usecols=["customer_id", "signup_at", "churned_at", "segment"],
            dtype={"customer_id": str, "segment": str},
        )
        interactions = pd.read_csv(
            path / "interactions.csv", usecols=["customer_id", "at", "kind", "touchpoint", "outcome", "resolved"],
            dtype={"customer_id": str, "kind": str, "touchpoint": str, "outcome": str, "resolved": "boolean"},
        )
    for frame, cols in ((customers, ["signup_at", "churned_at"]), (interactions, ["at"])):
        for col in cols:
            frame[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601").dt.tz_localize(None)
    read_seconds = time.perf_counter() - t0

    as_of = pd.Timestamp(as_of).tz_convert("UTC").tz_localize(None)
    customers = customers[customers.signup_at < as_of].copy()
    customers["end_at"] = customers["churned_at"].where(customers["churned_at"] <= as_of, as_of).fillna(as_of)
    customers["churned"] = customers["churned_at"].notna() & (customers["churned_at"] <= as_of)
    customers["s0"] = customers["signup_at"].dt.floor("D")

    bad = interactions.loc[(interactions.kind == "experience") & (interactions.outcome == "bad"), ["customer_id", "touchpoint", "at"]]
    bad = bad[bad["at"] < as_of].assign(day=lambda f: f["at"].dt.floor("D")).sort_values("day")
    fix = interactions.loc[
        (interactions.kind == "service") & (interactions.resolved == True) & (interactions.touchpoint != "how_to"),  # noqa: E712
        ["customer_id", "touchpoint", "at"],
    ]
    fix = fix.assign(fix_day=fix["at"].dt.floor("D"))[["customer_id", "touchpoint", "fix_day"]].sort_values("fix_day")
    bad = pd.merge_asof(
        bad, fix, left_on="day", right_on="fix_day", by=["customer_id", "touchpoint"], direction="forward",
        tolerance=pd.Timedelta(days=resolution),
    )
    one = pd.Timedelta(days=1)
    moves = bad["fix_day"].notna() & (bad["fix_day"] + one <= bad["day"] + pd.Timedelta(days=window))
    n = len(bad)
    changes = pd.concat(
        [
            pd.DataFrame({"customer_id": bad["customer_id"].to_numpy(), "d": (bad["day"] + one).to_numpy(), "du": np.ones(n, int), "dr": np.zeros(n, int)}),
            pd.DataFrame({"customer_id": bad.loc[moves, "customer_id"].to_numpy(), "d": (bad.loc[moves, "fix_day"] + one).to_numpy(), "du": -1, "dr": 1}),
            pd.DataFrame({
                "customer_id": bad["customer_id"].to_numpy(), "d": (bad["day"] + pd.Timedelta(days=window + 1)).to_numpy(),
                "du": np.where(moves, 0, -1), "dr": np.where(moves, -1, 0),
            }),
        ]
        + [
            pd.DataFrame({"customer_id": customers["customer_id"].to_numpy(), "d": (customers["s0"] + pd.Timedelta(days=b)).to_numpy(), "du": 0, "dr": 0})
            for b in (0, 90, 365)
        ],
        ignore_index=True,
    )
    changes = changes.merge(customers[["customer_id", "signup_at", "end_at", "churned", "segment"]], on="customer_id")
    changes = changes[changes["d"] < changes["end_at"]]
    points = changes.groupby(["customer_id", "d"], sort=True, as_index=False).agg(
        du=("du", "sum"), dr=("dr", "sum"), signup_at=("signup_at", "first"), end_at=("end_at", "first"),
        churned=("churned", "first"), segment=("segment", "first"),
    )
    g = points.groupby("customer_id", sort=False)
    points["unresolved"] = g["du"].cumsum().clip(upper=cap)
    points["resolved"] = g["dr"].cumsum().clip(upper=cap)
    next_d = g["d"].shift(-1)
    last = next_d.isna()
    start = points["d"].where(points["d"] > points["signup_at"], points["signup_at"])
    stop = next_d.where(~last, points["end_at"])
    day = 86400.0
    long = pd.DataFrame(
        {
            "customer_id": points["customer_id"],
            "start": (start - points["signup_at"]).dt.total_seconds() / day,
            "stop": (stop - points["signup_at"]).dt.total_seconds() / day,
            "event": (last & points["churned"]).astype(int),
            "unresolved": points["unresolved"],
            "resolved": points["resolved"],
            "segment[enterprise]": (points["segment"] == "enterprise").astype(float),
            "segment[smb]": (points["segment"] == "smb").astype(float),
        }
    )
    return long[long["stop"] > long["start"]].reset_index(drop=True), read_seconds


def case_lifelines(path: Path, fmt: str, threads: int) -> dict:
    from lifelines import CoxTimeVaryingFitter

    as_of = json.loads((path / "truth.json").read_text())["as_of"]
    t0 = time.perf_counter()
    long, read_seconds = pandas_long_table(path, fmt, as_of)
    t1 = time.perf_counter()
    ctv = CoxTimeVaryingFitter().fit(long, id_col="customer_id", event_col="event", start_col="start", stop_col="stop")
    t2 = time.perf_counter()
    return {
        "read_seconds": read_seconds,
        "build_seconds": t1 - t0 - read_seconds,
        "fit_seconds": t2 - t1,
        "seconds": t2 - t0,
        "intervals": len(long),
        "events": int(long["event"].sum()),
        "hazard_ratios": {k: float(v) for k, v in ctv.summary["exp(coef)"].items()},
    }


def case_cxlib_unadjusted(path: Path, fmt: str, threads: int) -> dict:
    """The churn step without the engagement adjustment (the model before it was the default)."""
    return case_cxlib(path, fmt, threads, engagement=False)


CASES = {"scan": case_scan, "cxlib": case_cxlib, "cxlib-unadjusted": case_cxlib_unadjusted,
         "lifelines": case_lifelines}


# ---------------------------------------------------------------------------------------- driver


def run_case(case: str, path: Path, fmt: str, threads: int, timeout: float) -> dict:
    """Run one case in a fresh runner process; its peak RSS is RUSAGE_CHILDREN of that runner."""
    runner = (
        "import json, resource, subprocess, sys;"
        "p = subprocess.run(sys.argv[1:], capture_output=True, text=True);"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss;"
        "print(json.dumps({'rc': p.returncode, 'out': p.stdout, 'err': p.stderr[-2000:], 'peak_kb': peak}))"
    )
    cmd = [sys.executable, "-c", runner, sys.executable, __file__, "--case", case, "--path", str(path),
           "--format", fmt, "--threads", str(threads)]
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    wrapper = json.loads(done.stdout)
    if wrapper["rc"] != 0:
        raise RuntimeError(f"case {case} on {path} failed:\n{wrapper['err']}")
    result = json.loads(wrapper["out"].strip().splitlines()[-1])
    result["peak_mb"] = wrapper["peak_kb"] / 1024  # Linux: ru_maxrss in kB
    return result


def ensure_data(data_dir: Path, n: int, fmt: str) -> Path:
    from cxlib.data.simulate import write_dataset

    path = data_dir / f"churn_{n}_{fmt}"
    if not (path / "truth.json").exists():
        print(f"simulating {n:,} customers as {fmt} into {path} ...", flush=True)
        t0 = time.perf_counter()
        write_dataset(path, n, seed=0, fmt=fmt, chunk_size=50_000)
        print(f"  {time.perf_counter() - t0:.0f} s", flush=True)
    return path


def _size_mb(path: Path, fmt: str) -> float:
    return sum((path / f"{t}.{fmt}").stat().st_size for t in ("customers", "interactions")) / 2**20


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), help=argparse.SUPPRESS)
    parser.add_argument("--path", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--format", default="parquet", help=argparse.SUPPRESS)
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--formats", nargs="+", default=["parquet", "csv"], choices=["parquet", "csv"])
    parser.add_argument(
        "--lifelines-sizes", type=int, nargs="+", default=[20_000, 50_000],
        help="sizes lifelines is run on (its Cox fit grows about quadratically; other sizes are extrapolated)",
    )
    parser.add_argument(
        "--lifelines-formats", nargs="+", default=["parquet"], choices=["parquet", "csv"],
        help="formats lifelines is run on (its Cox fit, the bulk of its time, does not depend on the format)",
    )
    parser.add_argument(
        "--unadjusted", action="store_true",
        help="also run the churn step without the engagement adjustment, for issue 13's cost of the adjustment",
    )
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=3600)
    parser.add_argument("--data-dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "cxlab-bench")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "churn.md")
    args = parser.parse_args(argv)

    if args.case:  # inside a subprocess: run one case, print its JSON
        print(json.dumps(CASES[args.case](args.path, args.format, args.threads)))
        return 0

    results = []
    for n in sorted(set(args.sizes) | set(args.lifelines_sizes)):
        for fmt in args.formats:
            path = ensure_data(args.data_dir, n, fmt)
            for case in ("scan", "cxlib", "cxlib-unadjusted", "lifelines"):
                if case == "cxlib-unadjusted" and not args.unadjusted:
                    continue
                if case == "lifelines" and (n not in args.lifelines_sizes or fmt not in args.lifelines_formats):
                    continue
                print(f"{n:,} {fmt} {case} ...", flush=True)
                r = run_case(case, path, fmt, args.threads, args.timeout)
                r.update(case=case, customers=n, format=fmt, size_mb=_size_mb(path, fmt))
                print(f"  {r['seconds']:.1f} s, peak {r['peak_mb']:.0f} MB", flush=True)
                results.append(r)
    (args.out.parent).mkdir(parents=True, exist_ok=True)
    args.out.with_suffix(".json").write_text(json.dumps(results, indent=2))
    args.out.write_text(report(results, args), encoding="utf-8")
    print(args.out.read_text())
    return 0


def extrapolate(results: list[dict], fmt: str, n: int):
    """lifelines' time at n customers from the sizes it was run on: a power law through them."""
    import math

    runs = sorted((r["customers"], r["seconds"]) for r in results if r["case"] == "lifelines" and r["format"] == fmt)
    if not runs:
        return None, ""
    (n0, t0), (n1, t1) = runs[0], runs[-1]
    if n1 == n0:
        return t1 * n / n1, f"extrapolated linearly from {n1:,} (a lower bound)"
    b = math.log(t1 / t0) / math.log(n1 / n0)
    return t1 * (n / n1) ** b, f"extrapolated as n^{b:.2f} from runs at {n0:,} and {n1:,}"


def report(results: list[dict], args) -> str:
    by = {(r["customers"], r["format"], r["case"]): r for r in results}
    lines = [
        "# Churn step at scale: cxlib against lifelines",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"DuckDB threads {args.threads}. Each case in its own process; peak = that process's max RSS.",
        "",
        "| customers | format | files (MB) | case | seconds | of which | peak memory (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in results:
        if r["case"] == "scan":
            parts = f"{r['interactions']:,} interactions read"
        elif r["case"] in ("cxlib", "cxlib-unadjusted"):
            parts = (f"load (validation) {r['load_seconds']:.1f} s + panel & fit {r['panel_fit_seconds']:.1f} s"
                     f" (CPU {r['load_cpu_seconds']:.0f} + {r['panel_fit_cpu_seconds']:.0f} s); {r['intervals']:,} intervals → {r['pattern_rows']} rows")
        else:
            parts = f"pandas read {r['read_seconds']:.1f} s + build {r['build_seconds']:.1f} s + Cox fit {r['fit_seconds']:.1f} s; {r['intervals']:,} intervals"
        lines.append(
            f"| {r['customers']:,} | {r['format']} | {r['size_mb']:.0f} | {r['case']} | {r['seconds']:.1f} | {parts} | {r['peak_mb']:.0f} |"
        )
    adjusted = [(r, by[(r["customers"], r["format"], "cxlib-unadjusted")]) for r in results
                if r["case"] == "cxlib" and (r["customers"], r["format"], "cxlib-unadjusted") in by]
    if adjusted:
        lines += ["", "## What the engagement adjustment costs (issue 13: at most 20% more)", "",
                  "| customers | format | unadjusted s (CPU s) | adjusted s (CPU s) | end to end | panel & fit | peak MB |",
                  "|---|---|---|---|---|---|---|"]
        for r, u in adjusted:
            lines.append(
                f"| {r['customers']:,} | {r['format']} | {u['seconds']:.1f} ({u['load_cpu_seconds'] + u['panel_fit_cpu_seconds']:.0f})"
                f" | {r['seconds']:.1f} ({r['load_cpu_seconds'] + r['panel_fit_cpu_seconds']:.0f})"
                f" | {100 * (r['seconds'] / u['seconds'] - 1):+.0f}% | {100 * (r['panel_fit_seconds'] / u['panel_fit_seconds'] - 1):+.0f}%"
                f" | {u['peak_mb']:.0f} → {r['peak_mb']:.0f} |"
            )
    lines += ["", "## Speed and agreement", ""]
    lines += [
        "| customers | format | lifelines ÷ cxlib (end to end) | lifelines ÷ cxlib panel & fit | max HR difference |",
        "|---|---|---|---|---|",
    ]
    for (n, fmt, case), r in sorted(by.items()):
        if case != "cxlib":
            continue
        ll = by.get((n, fmt, "lifelines"))
        if ll is not None:
            diff = max(abs(ll["hazard_ratios"][k] / r["hazard_ratios"][k] - 1) for k in COVARIATES)
            lines.append(
                f"| {n:,} | {fmt} | {ll['seconds'] / r['seconds']:.1f}× (measured) | "
                f"{ll['seconds'] / r['panel_fit_seconds']:.1f}× | {100 * diff:.2f}% |"
            )
            continue
        est, how = extrapolate(results, fmt if any(
            x["case"] == "lifelines" and x["format"] == fmt for x in results) else "parquet", n)
        if est is None:
            continue
        lines.append(
            f"| {n:,} | {fmt} | ≈{est / r['seconds']:.0f}× (lifelines NOT run: ≈{est / 60:,.0f} min {how}) | "
            f"≈{est / r['panel_fit_seconds']:.0f}× | – |"
        )
    lines += [
        "",
        "Hazard ratios compared: unresolved, resolved and the segments (the Cox model absorbs tenure in its "
        "baseline). The cxlib figure includes `cxlib.load`, which validates every row of the contract into an "
        "in-memory DuckDB database; the panel and fit alone are the `panel & fit` part.",
        "",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
