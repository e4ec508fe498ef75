"""Rendering executed notebooks into one self-contained HTML report.

The report is what a stakeholder reads: code hidden, figures embedded as data URIs, no
script and no request to the network (the ``cxreport`` template drops the CDN scripts of
nbconvert's ``lab`` template, and a Content-Security-Policy forbids anything else). Text
that came from data reaches the page only through pandas' HTML repr (``to_html`` escapes
every cell and header) and figures; markdown cells are ours and hold no data. nbconvert's
``sanitize_html`` is off because it escapes all markdown and table HTML into visible tags;
the escaping is proven instead by a test whose segment is named ``<script>…</script>``.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from cxlib.config import PACKAGE_DIR

TEMPLATES_DIR = PACKAGE_DIR / "templates"
#: Cells that belong to the machinery of a run, not to the reader.
HIDDEN_TAGS = {"parameters", "injected-parameters", "remove-cell"}


def merge_notebooks(paths) -> nbformat.NotebookNode:
    """One notebook holding the cells of ``paths`` in order (outputs kept)."""
    merged = nbformat.v4.new_notebook()
    for path in paths:
        nb = nbformat.read(str(path), as_version=4)
        if not merged.metadata:
            merged.metadata = nb.metadata
        merged.cells.extend(nb.cells)
    return merged


def errors_in(nb: nbformat.NotebookNode) -> list[str]:
    """The error outputs of a notebook: a notebook with any is not a report."""
    found = []
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                found.append(f"{output.get('ename')}: {output.get('evalue')}")
    return found


def atomic_write_text(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` so that a reader never sees half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)  # mkstemp makes 0600; a report is meant to be shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def to_html(nb: nbformat.NotebookNode, *, title: str, subtitle: str = "", footer=()) -> str:
    """Render a notebook as the report's HTML, code hidden."""
    errors = errors_in(nb)
    if errors:
        raise ValueError(f"the notebook holds errors, so it is not a report: {errors[0]}")
    exporter = HTMLExporter(
        template_name="cxreport",
        extra_template_basedirs=[str(TEMPLATES_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    exporter.register_preprocessor(TagRemovePreprocessor(remove_cell_tags=HIDDEN_TAGS), enabled=True)
    resources = {
        "cx_title": title,
        "cx_subtitle": subtitle,
        "cx_footer": list(footer),
        "cx_css": (TEMPLATES_DIR / "cxreport" / "report.css").read_text(encoding="utf-8"),
        "metadata": {"name": title},
    }
    body, _ = exporter.from_notebook_node(nb, resources=resources)
    return body


def render(notebooks, out, *, title: str, subtitle: str = "", footer=()) -> Path:
    """Merge executed notebooks and write the report to ``out`` atomically."""
    html = to_html(merge_notebooks(notebooks), title=title, subtitle=subtitle, footer=footer)
    return atomic_write_text(Path(out), html)
