"""Subcommands of ``cx``: each module has HELP, add_arguments(parser) and main(args) -> exit code."""
