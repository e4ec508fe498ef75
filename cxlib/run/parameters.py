"""A run's parameters: what the notebooks declare, what a parameters file and ``-p`` set, and
the values a run uses (typed like the notebook's default)."""

from __future__ import annotations

import ast
from datetime import date, datetime
from pathlib import Path

import papermill as pm

from cxlib.data.yamlfile import read_yaml


def declared_parameters(notebooks) -> dict[str, dict]:
    """Every parameter the notebooks declare: name → {default, type, notebooks}."""
    found: dict[str, dict] = {}
    for nb in notebooks:
        for name, info in pm.inspect_notebook(papermill_path(Path(nb))).items():
            entry = found.setdefault(
                name, {"default": info["default"], "type": info["inferred_type_name"], "notebooks": []}
            )
            entry["notebooks"].append(Path(nb).name)
    return found


def _coerce(name: str, value, type_name: str):
    """Give a value the type of the notebook's default (``-p`` values arrive as text, YAML guesses).

    Text parameters stay text whatever they look like (``00123``, a YAML date); numbers must
    parse as numbers; a bool is never taken for a number.
    """
    def wrong():
        return ValueError(f"parameter {name!r} must be {type_name}, got {value!r}")

    if type_name == "str":
        if value is None:
            return ""
        if isinstance(value, (date, datetime)):
            return value.isoformat()
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str):
            raise wrong()
        return value
    if type_name == "int":
        if isinstance(value, bool):
            raise wrong()
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int):
            return value
        try:
            return int(str(value).strip())
        except ValueError:
            raise wrong() from None
    if type_name == "float":
        if isinstance(value, bool):
            raise wrong()
        if isinstance(value, (int, float)):
            return float(value)
        try:
            return float(str(value).strip())
        except ValueError:
            raise wrong() from None
    if type_name == "bool":
        if isinstance(value, bool):
            return value
        word = str(value).strip().lower()
        if word in ("true", "1", "yes"):
            return True
        if word in ("false", "0", "no"):
            return False
        raise wrong()
    return value


def resolve_parameters(notebooks, *, params_file=None, overrides=None) -> dict:
    """Parameters from a YAML file, overridden by ``overrides``; unknown names are an error."""
    declared = declared_parameters(notebooks)
    chosen: dict = {}
    if params_file is not None:
        loaded = read_yaml(params_file, what="the parameters file") or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{params_file}: expected a mapping of parameter names to values")
        chosen.update(loaded)
    chosen.update(overrides or {})
    for name, value in list(chosen.items()):
        if not isinstance(name, str) or not name.isidentifier():
            raise ValueError(f"parameter name {name!r} is not a valid identifier")
        if name not in declared:
            known = ", ".join(sorted(declared))
            raise ValueError(f"unknown parameter {name!r}; the notebooks take: {known}")
        chosen[name] = _coerce(name, value, declared[name]["type"])
    return chosen


def effective_parameters(notebooks, chosen: dict) -> dict:
    """Every declared parameter with the value the run uses: ``chosen``, else the notebook's default."""
    values = {}
    for name, info in sorted(declared_parameters(notebooks).items()):
        if name == "results_dir":  # the run's own folder, set per run: not a setting of the analysis
            continue
        if name in chosen:
            values[name] = chosen[name]
            continue
        try:
            values[name] = ast.literal_eval(info["default"])
        except (ValueError, SyntaxError):
            values[name] = info["default"]
    return values


def papermill_path(path: Path) -> str:
    """A path papermill will not format: it calls ``str.format(**parameters)`` on both paths,
    so a folder named ``{data}`` would otherwise become a parameter's value."""
    return str(path).replace("{", "{{").replace("}", "}}")
