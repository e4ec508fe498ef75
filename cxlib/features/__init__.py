"""Floor 2, features: the SQL building blocks of the definitions, the customer-period panel, the metrics."""
