"""cx cost: what one bad experience costs in revenue, per touchpoint, left unresolved and resolved."""

from __future__ import annotations

import json

from cxlib.config import ROI_DRAWS
from cxlib.run.commands import options

HELP = "What one more bad experience costs in revenue per active customer, per touchpoint, with intervals."


def add_arguments(parser) -> None:
    options.add_data(parser, engine=True)
    parser.add_argument("--as-of", default=None, help="the analysis date (ISO 8601, UTC); default: the latest timestamp in the data")
    parser.add_argument("--horizon-months", type=float, default=12, help="months over which revenue is counted (default 12)")
    parser.add_argument("--draws", type=int, default=ROI_DRAWS,
                        help=f"draws of the uncertain inputs for the intervals (default {ROI_DRAWS})")
    parser.add_argument("--seed", type=int, default=0, help="seed of the draws (default 0)")
    parser.add_argument("--currency", default="EUR", help="currency of monthly_value (default EUR)")
    parser.add_argument("--by-touchpoint", action="store_true",
                        help="fit the churn model with one effect per touchpoint, so each touchpoint has its own cost "
                             "(default: one pooled effect, the same cost at every touchpoint)")
    options.add_definitions(parser)
    options.add_json(parser)


def main(args) -> int:
    import pandas as pd

    from cxlib.analyses import cost
    from cxlib.models.churn import ChurnModel
    from cxlib.present import summary

    with options.open_data(args) as data:
        # the analysis takes a fitted model and never fits one: fitted here, once, on data up to as_of
        model = ChurnModel(window_days=args.window_days, resolution_days=args.resolution_days,
                           by_touchpoint=args.by_touchpoint).fit(data)
        result = cost.evaluate(data, model=model, horizon_months=args.horizon_months, draws=args.draws, seed=args.seed,
                               window_days=args.window_days, resolution_days=args.resolution_days,
                               currency=args.currency)
    if args.json:
        print(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
        return 0
    print(summary.cost_sentence(result))
    print()
    with pd.option_context("display.width", 200, "display.max_columns", 20, "display.max_colwidth", 60):
        print(summary.cost_money_table(result).to_string())
    return 0
