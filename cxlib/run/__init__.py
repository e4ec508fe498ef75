"""Floor 6, run: the runner and its results folder, the report, the notebooks' set-up, templates and the cx command line."""
