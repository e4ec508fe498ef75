"""cx claims: the CX literature's figures held against the data, with verdicts."""

from __future__ import annotations

import json

from cxlib.run.commands import options
from cxlib.config import HORIZON_DAYS

HELP = "Test the published CX claims (one in three leave after one bad experience, ...) against the data."


def add_arguments(parser) -> None:
    options.add_data(parser, engine=True)
    parser.add_argument("--horizon-days", type=int, default=HORIZON_DAYS, help=f"churn counted within this many days (default {HORIZON_DAYS})")
    options.add_definitions(parser)
    parser.add_argument("--max-width", type=float, default=0.10, help="widest 95%% interval of a share that can support a claim (default 0.10)")
    parser.add_argument("--as-of", default=None, help="censoring time (ISO 8601, UTC); default: the latest timestamp in the data")
    options.add_json(parser)


def main(args) -> int:
    import warnings

    from cxlib.analyses import claims
    from cxlib.exceptions import ThinEvidenceWarning
    from cxlib.models.churn import ChurnModel
    from cxlib.present.claims import claims_table, with_reasons

    with options.open_data(args) as data, warnings.catch_warnings():
        if args.json:  # the verdicts say it; keep stdout and stderr clean for machines
            warnings.simplefilter("ignore", ThinEvidenceWarning)
        # the two claims about resolution rest on the churn model: fitted here, once, with the same settings
        model = ChurnModel(window_days=args.window_days, resolution_days=args.resolution_days).fit(data)
        frame = claims.evaluate(
            data,
            model=model,
            horizon_days=args.horizon_days,
            max_width=args.max_width,
        )
        if args.json:
            print(json.dumps({"horizon_days": args.horizon_days, "as_of": data.as_of.isoformat(),
                              "claims": claims.to_records(with_reasons(frame))}, indent=2))
        else:
            for r in claims_table(frame).itertuples(index=False):
                print(f"{r.claim}: {r.verdict.upper()}")
                print(f"  claim:    {r.statement}")
                print(f"  source:   {r.source}")
                if r.verdict != claims.NOT_TESTABLE:
                    print(f"  estimate: {r._4} (claimed {r.claimed}; without a bad experience {r._6})")
                print(f"  why:      {r.reason}")
    return 0
