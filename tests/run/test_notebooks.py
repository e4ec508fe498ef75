"""Notebooks: the style the scheduler relies on, and every notebook executes through papermill."""

from __future__ import annotations

import ast
import json

import nbformat
import papermill as pm
import pytest

from cxlib.config import NOTEBOOKS_DIR
from cxlib.run.runner import NOTEBOOKS

PATHS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))


def test_every_run_notebook_exists_and_every_notebook_is_run():
    assert [p.name for p in PATHS] == sorted(NOTEBOOKS)


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_style(path):
    nb = nbformat.read(str(path), as_version=4)
    assert nb.cells[0].cell_type == "markdown" and nb.cells[0].source.startswith("# "), "a markdown title first"
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", []), "the first code cell must be tagged 'parameters'"
    assert all(not c.get("outputs") and c.get("execution_count") is None for c in code), "stored without outputs"
    for line in code[0].source.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            # papermill ignores a parameter line with more than one '=' (e.g. in its comment)
            assert line.count("=") == 1, f"papermill cannot parse {line!r}"
            assert "#" in line, f"parameter without a comment: {line!r}"
    declared = pm.inspect_notebook(str(path))
    assert "data" in declared and "as_of" in declared
    for cell in code:
        tree = ast.parse(cell.source)
        assert not any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) for n in ast.walk(tree)), "no def/class"
    # The one import cell (the second code cell): only imports from cxlib, one line a module of the
    # package's floors, and setup(); no other cell imports anything.
    imports = ast.parse(code[1].source).body
    assert imports and all(
        isinstance(n, ast.ImportFrom) and n.module.startswith("cxlib") for n in imports[:-1]
    ), f"the second code cell imports from cxlib and nothing else: {code[1].source!r}"
    assert ast.unparse(imports[-1]) == "setup()", "the import cell ends with setup()"
    assert len({n.module for n in imports[:-1]}) == len(imports) - 1, "one import line a module"
    for cell in code[2:]:
        assert not any(isinstance(n, (ast.Import, ast.ImportFrom)) for n in ast.walk(ast.parse(cell.source))), (
            f"one import cell: {cell.source!r}"
        )
    # the parameters cell holds one line a parameter, the import cell one line a module
    for cell in code[2:]:
        assert len(cell.source.splitlines()) <= 6, f"a code cell of a thin notebook is a few lines: {cell.source!r}"
    markdown = [c for c in nb.cells if c.cell_type == "markdown"]
    assert len(markdown) >= len(code) - 2, "markdown tells the reader what each output shows"


@pytest.mark.parametrize("path", PATHS, ids=lambda p: p.name)
def test_notebook_executes_through_papermill(path, small_world, tmp_path):
    out = tmp_path / path.name
    pm.execute_notebook(
        str(path), str(out), parameters={"data": str(small_world)}, kernel_name="python3", progress_bar=False, cwd=str(tmp_path)
    )
    nb = json.loads(out.read_text())
    outputs = [o for c in nb["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    assert not [o for o in outputs if o["output_type"] == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert images, "the notebook shows figures"
    injected = [c for c in nb["cells"] if "injected-parameters" in c.get("metadata", {}).get("tags", [])]
    assert injected and str(small_world) in "".join(injected[0]["source"])


def test_setup_leaves_one_blas_thread():
    """setup() limits BLAS to one thread (its docstring says why); in a fresh process, whose default is every core."""
    import subprocess
    import sys

    code = (
        "from threadpoolctl import threadpool_info, threadpool_limits\n"
        "threadpool_limits(2, user_api='blas')\n"
        "from cxlib.run.notebook import setup\n"
        "setup()\n"
        "print(sorted({i['num_threads'] for i in threadpool_info() if i['user_api'] == 'blas'}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[1]", out
