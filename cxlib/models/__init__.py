"""Floor 3, models: the churn model, Kaplan–Meier and Cox, the risk model, the ROI engine. Numbers only: no plotting, no prose."""
