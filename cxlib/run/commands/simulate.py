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
    parser.add_argument(
        "--layout", default=None, metavar="PARTS",
        help="write the world as vendors' exports with a sources.yaml instead of the contract files: parts joined "
        "with + from stripe, zendesk|salesforce, events, orders, nps (e.g. zendesk+stripe+events)",
    )


def main(args) -> int:
    from cxlib.data.simulate import preset, write_dataset

    if args.customers < 1:
        raise ValueError("--customers must be at least 1")
    if args.layout is not None:
        return _write_layout(args)
    truth = write_dataset(
        args.out, args.customers, seed=args.seed, fmt=args.format, chunk_size=args.chunk_size, progress=args.progress,
        config=preset(args.preset),
    )
    counts = truth.get("realised", {})
    print(f"wrote {args.out}: {counts}")
    return 0


def _write_layout(args) -> int:
    """The contract files in a temporary folder, then converted into the layout (cxlib.data.simulate.layouts)."""
    import shutil
    import tempfile

    from cxlib.data.simulate import preset, write_dataset
    from cxlib.data.simulate.layouts import parts_of, write_layout

    parts_of(args.layout)  # a wrong layout fails before the world is simulated
    with tempfile.TemporaryDirectory(prefix="cxlab-layout-") as tmp:
        truth = write_dataset(tmp, args.customers, seed=args.seed, fmt="parquet", chunk_size=args.chunk_size,
                              progress=args.progress, config=preset(args.preset))
        sources = write_layout(tmp, args.out, args.layout)
        shutil.copy(Path(tmp) / "truth.json", Path(args.out) / "truth.json")
    print(f"wrote {args.out} in the layout {args.layout}: {truth.get('realised', {})}")
    print(f"sources file: {sources}")
    return 0
