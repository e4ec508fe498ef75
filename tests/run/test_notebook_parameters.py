"""The notebooks' parameters and the command line default to what the library defaults to.

A definition has one default (``cxlib.config``: ``window_days`` ↔ ``WINDOW_DAYS``, …); a
notebook parameter or a ``cx`` option handed to a cxlib function as a keyword
(``roi.prepare(…, draws=draws)``, ``roi.evaluate(…, draws=args.draws)``) defaults to what
that function's keyword defaults to, so a notebook, a command and a call of the library give
the same answer when nobody sets anything. The calls are found by parsing the notebooks'
code cells and the command modules with :mod:`ast`; the callee is the cxlib object the name
refers to through the cell's or module's imports, and its default comes from
:func:`inspect.signature`. An empty text parameter (``as_of: str = ""``) means the library's
``None``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
from pathlib import Path

import nbformat
import papermill as pm
import pytest

from cxlib import config
from cxlib.config import NOTEBOOKS_DIR
from cxlib.run import cli

NOTEBOOKS = sorted(NOTEBOOKS_DIR.glob("*.ipynb"))

#: Parameters a notebook uses without handing them to a cxlib keyword, and why no default is compared.
NOT_A_LIBRARY_KEYWORD = {
    "data": "the data location, positional in open_data; empty means the demo data set",
    "results_dir": "where the run keeps its results (cx run sets it), positional in results.Results",
    "scenarios": "handed on as `scenarios or None`: empty means the library's default scenarios",
    "whatif_draws": "how many of the prepared draws the what-if panel keeps (prepared.subset(n), no default)",
    "top": "how many rows of the list the notebook shows (ranked.head(top))",
}

#: Options whose default is the command's own on purpose, with why.
COMMAND_OWN_DEFAULTS = {
    ("validate", "rejects"): "the command writes its rejects file; the library writes one only when asked",
}


def _empty_is_none(value):
    return None if value == "" else value


def _cxlib_namespace(tree: ast.AST) -> dict[str, object]:
    """The names a cell or module binds by importing from cxlib, to the objects they are."""
    names: dict[str, object] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "cxlib":
            module = importlib.import_module(node.module)
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found = importlib.util.find_spec(submodule) if hasattr(module, "__path__") else None
                names[alias.asname or alias.name] = (
                    importlib.import_module(submodule) if found else getattr(module, alias.name)
                )
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "cxlib":
                    bound = alias.asname or alias.name.split(".")[0]
                    names[bound] = importlib.import_module(alias.name if alias.asname else "cxlib")
    return names


def _callee(call: ast.Call, names: dict[str, object]) -> tuple[str, object] | tuple[None, None]:
    """(how the call is written, the cxlib callable) for ``f(…)`` and ``module.f(…)``.

    Methods of values (``model.fit``, ``kept.get``) are not followed: their object is not known here.
    """
    func = call.func
    if isinstance(func, ast.Name) and func.id in names:
        return func.id, names[func.id]
    if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id in names:
        owner = names[func.value.id]
        return f"{func.value.id}.{func.attr}", getattr(owner, func.attr)
    return None, None


def keyword_defaults(source: str, argument_of) -> list[tuple[str, str, str, object]]:
    """Every call of a cxlib callable with a keyword whose value ``argument_of`` names (a parameter,
    an option), as (the argument's name, the call, the keyword, the keyword's default there)."""
    tree = ast.parse(source)
    names = _cxlib_namespace(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        written, target = _callee(node, names)
        if target is None:
            continue
        signature = inspect.signature(target)
        for keyword in node.keywords:
            argument = argument_of(keyword.value)
            parameter = signature.parameters.get(keyword.arg) if keyword.arg else None
            if argument is None or parameter is None or parameter.default is inspect.Parameter.empty:
                continue
            found.append((argument, f"{written}({keyword.arg}=)", keyword.arg, parameter.default))
    return found


def notebook_parameters(path: Path) -> dict[str, object]:
    """name → default value of one notebook's parameters cell, as papermill reads it (the runner's
    reading; papermill formats the path with the parameters, hence the doubled braces)."""
    found = pm.inspect_notebook(str(path).replace("{", "{{").replace("}", "}}"))
    return {name: ast.literal_eval(info["default"]) for name, info in found.items()}


def notebook_code(path: Path) -> str:
    cells = nbformat.read(path, as_version=4).cells
    code = [c.source for c in cells if c.cell_type == "code" and "parameters" not in c.metadata.get("tags", [])]
    return "\n".join(code)


def notebook_mismatches(path: Path) -> tuple[list[str], set[str]]:
    """(each parameter default that differs from the library's, the parameters that were compared)."""
    parameters = notebook_parameters(path)

    def parameter(value):
        return value.id if isinstance(value, ast.Name) and value.id in parameters else None

    mismatches, compared = [], set()
    for name, value in parameters.items():
        constant = getattr(config, name.upper(), None)
        if constant is not None:
            compared.add(name)
            if value != constant:
                mismatches.append(f"{path.name}: {name} = {value!r}, config.{name.upper()} = {constant!r}")
    for name, call, _, default in keyword_defaults(notebook_code(path), parameter):
        compared.add(name)
        if _empty_is_none(parameters[name]) != _empty_is_none(default):
            mismatches.append(f"{path.name}: {name} = {parameters[name]!r}, {call} defaults to {default!r}")
    return sorted(set(mismatches)), compared


def _subcommands() -> dict[str, object]:
    parser = cli.build_parser()
    (sub,) = [a for a in parser._actions if a.dest == "command"]
    return dict(sub.choices)


def _flag(dest: str) -> str:
    return "--" + dest.replace("_", "-")


def command_mismatches(name: str, parser) -> tuple[list[str], set[str]]:
    """(each option default that differs from the library keyword it is handed to, the options compared)."""
    defaults = {action.dest: action.default for action in parser._actions}
    module = importlib.import_module(f"cxlib.run.commands.{name}")

    def option(value):
        if isinstance(value, ast.Attribute) and isinstance(value.value, ast.Name) and value.value.id == "args":
            return value.attr
        return None

    mismatches, compared = [], set()
    for dest, constant in ((d, getattr(config, d.upper(), None)) for d in defaults):
        if constant is not None:
            compared.add(dest)
            if defaults[dest] != constant:
                mismatches.append(f"cx {name} {_flag(dest)} {defaults[dest]!r}, config.{dest.upper()} = {constant!r}")
    for dest, call, _, default in keyword_defaults(Path(module.__file__).read_text(encoding="utf-8"), option):
        if (name, dest) in COMMAND_OWN_DEFAULTS or dest not in defaults:
            continue
        compared.add(dest)
        if _empty_is_none(defaults[dest]) != _empty_is_none(default):
            mismatches.append(f"cx {name} {_flag(dest)} {defaults[dest]!r}, {call} defaults to {default!r}")
    return sorted(set(mismatches)), compared


# -- the notebooks ---------------------------------------------------------------------------------


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_parameters_default_to_the_library_defaults(path):
    mismatches, _ = notebook_mismatches(path)
    assert not mismatches, "\n".join(mismatches)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_notebook_parameter_is_compared_or_said_why_not(path):
    _, compared = notebook_mismatches(path)
    left = set(notebook_parameters(path)) - compared - set(NOT_A_LIBRARY_KEYWORD)
    assert not left, f"{path.name}: parameters whose default nothing checks: {sorted(left)}"


def test_notebooks_agree_on_the_defaults_of_the_parameters_they_share():
    seen: dict[str, dict[str, object]] = {}
    for path in NOTEBOOKS:
        for name, value in notebook_parameters(path).items():
            seen.setdefault(name, {})[path.name] = value
    differ = {name: by for name, by in seen.items() if len({repr(v) for v in by.values()}) > 1}
    assert not differ, differ


# -- the command line ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", cli.COMMANDS)
def test_command_options_default_to_the_library_defaults(name):
    mismatches, _ = command_mismatches(name, _subcommands()[name])
    assert not mismatches, "\n".join(mismatches)


# -- the comparison itself -------------------------------------------------------------------------


def test_the_comparison_finds_the_keyword_a_parameter_feeds_and_its_default():
    source = (
        "from cxlib.analyses import roi\nfrom cxlib.models.churn import ChurnModel\n"
        "m = ChurnModel(window_days=window_days)\nroi.prepare(d, draws=draws, seed=1)\nother.f(draws=draws)\n"
    )
    wanted = ("window_days", "draws")
    found = keyword_defaults(source, lambda v: v.id if isinstance(v, ast.Name) and v.id in wanted else None)
    assert [(name, call) for name, call, _, _ in found] == [
        ("window_days", "ChurnModel(window_days=)"),
        ("draws", "roi.prepare(draws=)"),
    ]
    churn_model = importlib.import_module("cxlib.models.churn").ChurnModel
    assert found[0][3] == inspect.signature(churn_model).parameters["window_days"].default


def test_a_notebook_whose_parameter_drifted_is_reported(tmp_path):
    """A copy of 02_churn with window_days 60 in its parameters cell: both the config constant and
    the library keywords it feeds say so."""
    source = next(p for p in NOTEBOOKS if p.stem == "02_churn")
    nb = nbformat.read(source, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert "window_days: int = 90" in cell.source
    cell.source = cell.source.replace("window_days: int = 90", "window_days: int = 60")
    drifted = tmp_path / source.name
    nbformat.write(nb, drifted)
    mismatches, _ = notebook_mismatches(drifted)
    assert "02_churn.ipynb: window_days = 60, config.WINDOW_DAYS = 90" in mismatches
    assert "02_churn.ipynb: window_days = 60, ChurnModel(window_days=) defaults to 90" in mismatches
