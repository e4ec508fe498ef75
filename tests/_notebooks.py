"""Notebooks the tests write: a tiny one with a parameters cell (data, as_of, window_days) and
one code cell, for runs that check the runner rather than the analyses."""

from __future__ import annotations

import nbformat


def tiny_notebook(tmp_path, body='print("data is", data, "window", window_days)'):
    """``tmp_path/tiny.ipynb``: a title, the parameters cell and ``body``."""
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_markdown_cell("# Tiny"),
            nbformat.v4.new_code_cell(
                'data: str = ""  # data\nas_of: str = ""  # as of\nwindow_days: int = 90  # window',
                metadata={"tags": ["parameters"]},
            ),
            nbformat.v4.new_code_cell(body),
        ],
        metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
    )
    path = tmp_path / "tiny.ipynb"
    nbformat.write(nb, str(path))
    return path
