"""Coverage of ChurnModel's 95% intervals over simulated worlds with known truth.

    python benchmarks/bench_churn_coverage.py [--seeds 20] [--customers 20000] [--out benchmarks/results/churn_coverage.md]
    python benchmarks/bench_churn_coverage.py --preset confounded --out benchmarks/results/churn_coverage_confounded.md
    python benchmarks/bench_churn_coverage.py --preset confounded --negative-control --out ...
    python benchmarks/bench_churn_coverage.py --preset confounded --rate-alone --out ...
    python benchmarks/bench_churn_coverage.py --preset demo --by-touchpoint --customers 50000 --seeds 3 \
        --out benchmarks/results/churn_touchpoints.md

``--preset confounded`` is the world where engagement differs between customers (the
confounder): the trailing counts are compared with the truth, adjusted and, beside them, not
adjusted. ``--by-touchpoint`` fits a pair of hazard ratios per touchpoint and compares them
with ``truth["hazard"]["hr_by_touchpoint"]``. The model is the default one (adjusted for the
experience rate and the window's count of experiences); ``--rate-alone`` fits
``ChurnModel(window_experiences=False)`` (the experience rate only, the default before 2026-12-03);
``--negative-control`` adds :func:`cxlib.models.checks.negative_control` (with the same adjustment).

For each seed: simulate, load (validated), fit; count per covariate whether the 95% interval
covers the true hazard ratio, and the relative error of the estimate. With 20 seeds a
well-calibrated interval covers the truth about 19 times (17 or more with probability 92%).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cxlib  # noqa: E402
from cxlib.models.checks import negative_control  # noqa: E402
from cxlib.models.churn import ChurnModel  # noqa: E402
from cxlib.data.simulate import preset, write_dataset  # noqa: E402
from tests.models.test_churn import true_hazard_ratios  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=100)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "churn_coverage.md")
    parser.add_argument("--preset", default="default", help="the simulated world (cxlib.data.simulate.PRESETS)")
    parser.add_argument("--by-touchpoint", action="store_true", help="per-touchpoint hazard ratios")
    parser.add_argument("--rate-alone", action="store_true",
                        help="adjust for the experience rate only, not the window's count of experiences "
                             "(ChurnModel(window_experiences=False))")
    parser.add_argument("--negative-control", action="store_true",
                        help="also the negative control (HR of good experiences, truth 1) on its default sample")
    args = parser.parse_args(argv)

    window_experiences = not args.rate_alone
    rows, controls = [], []
    started = time.perf_counter()
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        with tempfile.TemporaryDirectory(prefix="cx-coverage-") as tmp:
            truth = write_dataset(tmp, args.customers, seed=seed, fmt="parquet", config=preset(args.preset))
            with cxlib.load(tmp, as_of=truth["as_of"]) as data:
                model = ChurnModel(by_touchpoint=args.by_touchpoint, window_experiences=window_experiences).fit(data)
                if args.negative_control:
                    nc = negative_control(data, window_experiences=window_experiences)
                    controls.append({"seed": seed, **{f"{m}_{k}": nc.loc[m, k] for m in nc.index
                                                      for k in ("hazard_ratio", "covers_one")}})
        true_hr = true_hazard_ratios(truth)
        if args.by_touchpoint:
            true_hr = pd.Series({model.count_term(k, tp): hrs[k] for tp, hrs in truth["hazard"]["hr_by_touchpoint"].items()
                                 for k in ("unresolved", "resolved") if tp in model.touchpoints_})
        elif args.preset != "default":
            true_hr = true_hr[["unresolved", "resolved"]]
        ci = model.confidence_intervals_.loc[true_hr.index]
        unadjusted = model.unadjusted_.hazard_ratios_.reindex(true_hr.index)
        for name, value in true_hr.items():
            rows.append(
                {
                    "seed": seed,
                    "covariate": name,
                    "truth": value,
                    "estimate": model.hazard_ratios_[name],
                    "ci_low": ci.loc[name, "ci_low"],
                    "ci_high": ci.loc[name, "ci_high"],
                    "covered": bool(ci.loc[name, "ci_low"] <= value <= ci.loc[name, "ci_high"]),
                    "unadjusted": unadjusted[name],
                }
            )
        done = [r for r in rows if r["seed"] == seed]
        print(f"seed {seed}: {sum(r['covered'] for r in done)}/{len(done)} covered", flush=True)
    frame = pd.DataFrame(rows)
    frame["rel_error"] = frame["estimate"] / frame["truth"] - 1
    per = frame.groupby("covariate", sort=False).agg(
        truth=("truth", "first"),
        mean_estimate=("estimate", "mean"),
        mean_rel_error=("rel_error", "mean"),
        max_abs_rel_error=("rel_error", lambda s: s.abs().max()),
        covered=("covered", "sum"),
        seeds=("covered", "size"),
        mean_unadjusted=("unadjusted", "mean"),
    )
    seconds = time.perf_counter() - started
    adjustment = ("adjusted for engagement: experience-rate band and trailing count of experiences "
                  "(the default)" if window_experiences else "adjusted for the experience rate alone, "
                  "window_experiences=False")
    lines = [
        "# ChurnModel: coverage of the 95% intervals over simulated worlds",
        "",
        f"{args.seeds} seeds ({args.first_seed}–{args.first_seed + args.seeds - 1}), {args.customers:,} customers each, "
        f"world `{args.preset}`, model ({adjustment}; window 90 days, resolution 3 days, cap 5)"
        f"{', per touchpoint' if args.by_touchpoint else ''}; {seconds:.0f} s in all (a machine shared with other jobs).",
        "",
        "| covariate | truth | mean estimate | mean rel. error | max abs rel. error | covered | mean unadjusted |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, r in per.iterrows():
        lines.append(
            f"| {name} | {r.truth:.3f} | {r.mean_estimate:.3f} | {100 * r.mean_rel_error:+.1f}% | "
            f"{100 * r.max_abs_rel_error:.1f}% | {int(r.covered)}/{int(r.seeds)} | {r.mean_unadjusted:.3f} |"
        )
    total = int(frame["covered"].sum())
    lines += ["", f"All intervals: {total}/{len(frame)} cover the truth ({100 * total / len(frame):.1f}%).", ""]
    if controls:
        nc = pd.DataFrame(controls)
        lines += [
            "Negative control (`negative_control`: the HR of each good experience in the trailing window, "
            "truth 1; its default sample of 5,000 customers per seed):",
            "",
            "| model | mean HR | min | max | 95% interval covers 1 |",
            "|---|---|---|---|---|",
        ]
        for m in ("adjusted", "unadjusted"):
            hr = nc[f"{m}_hazard_ratio"]
            lines.append(f"| {m} | {hr.mean():.3f} | {hr.min():.3f} | {hr.max():.3f} | "
                         f"{int(nc[f'{m}_covers_one'].sum())}/{len(nc)} |")
        lines.append("")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
