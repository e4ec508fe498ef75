"""Floor 1, data: the contract, loading and validation into a Dataset, the engines (DuckDB, Spark), sources, PostgreSQL, the simulator.

From the ground up: ``contract`` (the names of design.md's data contract, once), ``clock`` and
``literals`` (naive UTC; our own values in SQL text), ``rules`` (the contract's rules as SQL)
and ``engine`` (the protocol every data set implements); ``postgres``, ``sources/`` and
``inputs`` (reading each table); ``load`` (DuckDB: :class:`~cxlib.data.load.Dataset`) and
``spark`` (:class:`~cxlib.data.spark.SparkDataset`); ``open`` (:func:`~cxlib.data.open.open_data`,
the one way in); ``simulate/`` (a world with known truth, written as the contract's files or
as vendors' exports).
"""
