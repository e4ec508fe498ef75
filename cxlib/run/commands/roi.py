"""cx roi: revenue retained, net benefit and ROI of service against experience investments."""

from __future__ import annotations

import json

from cxlib.config import ROI_DRAWS
from cxlib.run.commands import options

HELP = "ROI of service against experience investments: revenue retained, net benefit, break-even, with intervals."


def add_arguments(parser) -> None:
    options.add_data(parser, engine=True)
    parser.add_argument("--scenarios", default=None, help="YAML file of scenarios (default: the shipped cxlib/analyses/scenarios/default.yaml)")
    parser.add_argument("--as-of", default=None, help="the analysis date (ISO 8601, UTC); default: the latest timestamp in the data")
    parser.add_argument("--horizon-months", type=float, default=12, help="months over which revenue is counted (default 12)")
    parser.add_argument("--draws", type=int, default=ROI_DRAWS,
                        help=f"draws of the uncertain inputs for the intervals (default {ROI_DRAWS})")
    parser.add_argument("--process-draws", type=int, default=100,
                        help="simulated futures of the base for the interval of what is actually retained (default 100; 0 skips)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    options.add_definitions(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    options.add_json(parser)


def main(args) -> int:
    import pandas as pd

    from cxlib.analyses import roi
    from cxlib.models.churn import ChurnModel
    from cxlib.present import format as fmt
    from cxlib.present import roi as roi_text

    with options.open_data(args) as data:
        # the analysis takes a fitted model and never fits one: fitted here, once, on data up to as_of
        model = ChurnModel(window_days=args.window_days, resolution_days=args.resolution_days).fit(data)
        result = roi.evaluate(
            data,
            args.scenarios,
            model=model,
            horizon_months=args.horizon_months,
            draws=args.draws,
            seed=args.seed,
            process_draws=args.process_draws,
            window_days=args.window_days,
            resolution_days=args.resolution_days,
            progress=not (args.no_progress or args.json),
        )
    if args.json:
        print(json.dumps(roi_text.as_dict(result), indent=2, ensure_ascii=False))
        return 0
    b = result.baseline
    print(
        f"ROI over {result.settings['horizon_months']:g} months for the {b['customers']:,} customers active at "
        f"{result.settings['as_of']} ({result.settings['draws']} draws, seed {result.settings['seed']})"
    )
    print(f"baseline: {b['expected_churn']:,.0f} expected to leave; expected revenue {fmt.money(b['expected_revenue'], result.currency)}")
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        print(roi_text.roi_table(result).T.to_string())
    print()
    print(roi_text.recommendation(result))
    for note in result.notes:
        print(f"note: {note}")
    return 0
