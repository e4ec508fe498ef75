"""cx simulate: write a simulated customer base with its known truth."""

from __future__ import annotations

from pathlib import Path

HELP = "Simulate a customer base with known truth: customers.*, interactions.*, truth.json."


def add_arguments(parser) -> None:
    parser.add_argument("--customers", type=int, default=10_000, help="number of customers (default 10,000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed: same seed, same files (default 0)")
    parser.add_argument("--out", type=Path, required=True, help="folder to write into")
    parser.add_argument("--format", choices=("csv", "parquet"), default="csv", help="file format (default csv)")
    parser.add_argument("--chunk-size", type=int, default=20_000, help="customers generated at a time (default 20,000)")
    parser.add_argument("--progress", action="store_true", help="show a progress bar")
    parser.add_argument(
        "--preset",
        default="default",
        help="named world: default, demo (engagement differs between customers, touchpoint-specific effects), "
        "confounded (engagement, HRs 1.8 and 1.1)",
    )


def main(args) -> int:
    from cxlib.simulate import preset, write_dataset

    if args.customers < 1:
        raise ValueError("--customers must be at least 1")
    truth = write_dataset(
        args.out, args.customers, seed=args.seed, fmt=args.format, chunk_size=args.chunk_size, progress=args.progress,
        config=preset(args.preset),
    )
    counts = truth.get("realised", {})
    print(f"wrote {args.out}: {counts}")
    return 0
