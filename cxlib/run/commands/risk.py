"""cx risk: the customers active now who are most likely to leave within the horizon, and why."""

from __future__ import annotations

import sys
from pathlib import Path

from cxlib.run.commands import options
from cxlib.config import HORIZON_DAYS

HELP = "Churn-risk list: customers active now, most likely to leave within the horizon first, with the reason."

#: Columns of the CSV, in order.
COLUMNS = ("customer_id", "probability", "reason", "monthly_value", "monthly_value_at_risk")


def add_arguments(parser) -> None:
    options.add_data(parser, engine=True)
    parser.add_argument("--top", type=int, default=None, help="keep the N customers most at risk (default: everyone)")
    parser.add_argument("--out", type=Path, default=None, help="write the list to this CSV file (default: print it)")
    parser.add_argument("--horizon-days", type=int, default=HORIZON_DAYS, help=f"look this many days ahead (default {HORIZON_DAYS})")
    options.add_definitions(parser)
    parser.add_argument("--as-of", default=None, help="the day of the list (ISO 8601, UTC); default: the latest timestamp in the data")


def main(args) -> int:
    from cxlib.models.risk import RiskModel
    from cxlib.present.risk import risk_list

    if args.top is not None and args.top < 1:
        raise ValueError(f"--top must be >= 1, not {args.top}")
    if args.out is not None:  # before the fit: a path that cannot be written fails at once
        args.out.parent.mkdir(parents=True, exist_ok=True)
    with options.open_data(args) as data:
        model = RiskModel(
            horizon_days=args.horizon_days, window_days=args.window_days, resolution_days=args.resolution_days
        ).fit(data)
        ranked = risk_list(model.rank(data, top=args.top), model)
    table = ranked[list(COLUMNS)].round({"probability": 4, "monthly_value": 2, "monthly_value_at_risk": 2})
    if args.out is None:
        table.to_csv(sys.stdout, index=False)
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(args.out, index=False)
    print(
        f"{len(table):,} customers at risk within {args.horizon_days} days as of {ranked.attrs['as_of'].date()} "
        f"written to {args.out} (expected monthly value at risk {table['monthly_value_at_risk'].sum():,.2f})"
    )
    return 0
