"""Floor 4, analyses: claims, ROI scenarios, the backtest, the cost of a bad experience. They take fitted models; they never fit one silently."""
