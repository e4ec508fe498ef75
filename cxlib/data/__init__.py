"""Floor 1, data: the contract, loading and validation into a Dataset, the engines (DuckDB, Spark), sources, PostgreSQL, the simulator."""
