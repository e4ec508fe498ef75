"""Rendering executed notebooks into one self-contained HTML report.

The report is what a stakeholder reads: code hidden, figures embedded as data URIs, no
script and no request to the network (the ``cxreport`` template drops the CDN scripts of
nbconvert's ``lab`` template, and a Content-Security-Policy forbids anything else). Text
that came from data reaches the page only through pandas' HTML repr (``to_html`` escapes
every cell and header) and figures; markdown cells are ours and hold no data. nbconvert's
``sanitize_html`` is off because it escapes all markdown and table HTML into visible tags;
the escaping is proven instead by a test whose segment is named ``<script>…</script>``
(in the HTML, and in a real Chromium by tests/test_report_browser.py). Warnings a notebook
printed on stderr reach the reader as one-line notes, without the code line Python adds.
"""

from __future__ import annotations

import copy
import os
import re
import tempfile
from pathlib import Path

import nbformat
from nbconvert import HTMLExporter
from nbconvert.preprocessors import TagRemovePreprocessor

from cxlib.config import TEMPLATES_DIR

#: A widget's view: live in JupyterLab, dropped from the report (cxlib.present.whatif puts a static view beside it).
WIDGET_MIME = "application/vnd.jupyter.widget-view+json"
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


_WARNING_LINE = re.compile(r"^\S.*?:\d+: (?P<category>\w*Warning): (?P<message>.*)$")


def reader_notes(text: str) -> str:
    """What of a cell's stderr a reader should see: each warning's message, as a note.

    Python prints a warning as ``file:line: Category: message`` followed by the source line
    that raised it; the file is a kernel's temporary file and the source line is code, so
    both go. Anything else on stderr (logs, progress bars) is machinery, kept only in the
    executed notebooks.
    """
    notes = []
    for line in text.splitlines():
        match = _WARNING_LINE.match(line)
        if match:
            notes.append(f"Note: {match['message'].strip()}")
    return "\n".join(notes) + ("\n" if notes else "")


def for_readers(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of ``nb`` for readers: stderr reduced to :func:`reader_notes`, widget views and state dropped."""
    nb = copy.deepcopy(nb)
    nb.metadata.pop("widgets", None)  # widget state: the report shows each widget's static view
    for cell in nb.cells:
        outputs = []
        for output in cell.get("outputs", []):
            if WIDGET_MIME in output.get("data", {}):
                del output["data"][WIDGET_MIME]
                if not output["data"]:
                    continue
            if output.get("output_type") == "stream" and output.get("name") == "stderr":
                text = reader_notes("".join(output.get("text", "")))
                if not text:
                    continue
                output = nbformat.v4.new_output("stream", name="stderr", text=text)
            outputs.append(output)
        if "outputs" in cell:
            cell.outputs = outputs
    return nb


def to_html(nb: nbformat.NotebookNode, *, title: str, subtitle: str = "", footer=(), methods=()) -> str:
    """Render a notebook as the report's HTML, code hidden.

    ``footer``: (label, value) pairs of the "About this run" table; ``methods``: (heading,
    paragraph) pairs of the closing "Methods and caveats" section. Both are text, escaped
    by the template.
    """
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
        "cx_methods": list(methods),
        "cx_css": (TEMPLATES_DIR / "cxreport" / "report.css").read_text(encoding="utf-8"),
        "metadata": {"name": title},
    }
    body, _ = exporter.from_notebook_node(for_readers(nb), resources=resources)
    return body


def render(notebooks, out, *, title: str, subtitle: str = "", footer=(), methods=()) -> Path:
    """Merge executed notebooks and write the report to ``out`` atomically."""
    html = to_html(merge_notebooks(notebooks), title=title, subtitle=subtitle, footer=footer, methods=methods)
    return atomic_write_text(Path(out), html)
