"""The layout keeps its floors: data ← features ← models ← analyses ← present ← run.

Every module under ``cxlib/`` is parsed with :mod:`ast` (imports at the top of a module, inside
functions and classes, under ``if TYPE_CHECKING``, and ``importlib.import_module("cxlib…")``
calls alike), each imported cxlib module is mapped to its floor, and an import from a lower
floor to a higher one is a violation. The ground (``cxlib/__init__.py``, ``config.py``,
``exceptions.py``) may import only the ground and ``data``. Models and analyses return
numbers: they import no plotting, no display and nothing from ``cxlib.present``. No module is
over :data:`MAX_LINES` lines.

The checkers are functions of a package folder, so the tests at the end show them finding a
bad import in a small package written into a temporary folder.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "cxlib"

#: The floors, lowest first; a module may import its own floor and those below.
FLOORS = ("data", "features", "models", "analyses", "present", "run")
#: The modules directly under the package that sit below every floor (paths and defaults,
#: errors, the package's own names); they may import each other and ``data``.
GROUND = ("__init__", "config", "exceptions")
GROUND_MAY_IMPORT = 1  # the data floor

#: Floors whose modules return numbers, and what they may not import for it (a prefix of a
#: module's dotted name; ``cxlib.present`` is the package of any folder being checked).
NUMBERS_ONLY = ("models", "analyses")
PRESENTATION_MODULES = ("matplotlib", "seaborn", "IPython", "ipywidgets", "present")
PRESENTATION_NAMES = ("plt", "Markdown", "display")

MAX_LINES = 600


@dataclass(frozen=True)
class Import:
    """One import in a module: where it is written and the dotted module it imports."""

    path: Path  # the importing file
    line: int
    module: str  # the module imported (``cxlib.analyses.roi``), never relative
    names: tuple[tuple[str, str], ...] = ()  # (name, alias or "") of each name bound by it

    def shown(self) -> str:
        return ", ".join(f"{name} as {alias}" if alias else name for name, alias in self.names)

    def where(self, package_dir: Path) -> str:
        return f"{self.path.relative_to(package_dir.parent)}:{self.line}"


def module_name(path: Path, package_dir: Path) -> str:
    """``<package>/features/panel.py`` → ``cxlib.features.panel``; a package's ``__init__`` → the package."""
    parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_module(dotted: str, package_dir: Path) -> bool:
    """Is ``dotted`` (``cxlib.x.y``) a module or package under ``package_dir``?"""
    parts = dotted.split(".")
    if parts[0] != package_dir.name:
        return False
    target = package_dir.joinpath(*parts[1:])
    return target.with_suffix(".py").is_file() or (target / "__init__.py").is_file()


def _absolute(node: ast.ImportFrom, importer: str, is_package: bool) -> str:
    """The absolute module of a ``from … import``, relative ones resolved against the importer."""
    if not node.level:
        return node.module or ""
    base = importer.split(".")
    if not is_package:
        base.pop()
    if node.level > 1:
        base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _import_module_target(node: ast.Call) -> str | None:
    """The module named by ``importlib.import_module("…")`` / ``import_module(f"cxlib.x.{name}")``.

    For an f-string, its literal beginning up to the last full stop: the floor is in it.
    """
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
    if name != "import_module" or not node.args:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return arg.value
    if isinstance(arg, ast.JoinedStr) and arg.values and isinstance(arg.values[0], ast.Constant):
        return str(arg.values[0].value).rsplit(".", 1)[0]
    return None


def imports_of(path: Path, package_dir: Path) -> list[Import]:
    """Every import written in one file, at any depth, with its absolute module name."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    importer = module_name(path, package_dir)
    is_package = path.name == "__init__.py"
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                found.append(Import(path, node.lineno, alias.name, ((alias.name, alias.asname or ""),)))
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, importer, is_package)
            by_target: dict[str, list[tuple[str, str]]] = {}
            for alias in node.names:
                # ``from cxlib.analyses import roi`` imports the module cxlib.analyses.roi;
                # ``from cxlib import load`` imports a name of cxlib itself.
                submodule = f"{module}.{alias.name}"
                target = submodule if _is_module(submodule, package_dir) else module
                by_target.setdefault(target, []).append((alias.name, alias.asname or ""))
            found.extend(Import(path, node.lineno, target, tuple(names)) for target, names in by_target.items())
        elif isinstance(node, ast.Call):
            target = _import_module_target(node)
            if target:
                found.append(Import(path, node.lineno, target))
    return sorted(found, key=lambda imp: imp.line)


def modules(package_dir: Path) -> list[Path]:
    return sorted(p for p in package_dir.rglob("*.py") if "__pycache__" not in p.parts)


def floor_of(module: str, package_dir: Path) -> tuple[str, int] | None:
    """(floor name, level) of a module of the package: ground 0, data 1 … run 6; None outside it."""
    parts = module.split(".")
    if parts[0] != package_dir.name:
        return None
    head = parts[1] if len(parts) > 1 else "__init__"
    if head in FLOORS:
        return head, FLOORS.index(head) + 1
    return "ground", 0


def floor_violations(package_dir: Path) -> list[str]:
    """Every import of a higher floor from a lower one, and of a cxlib module that does not exist.

    Each as ``cxlib/data/load.py:12 → cxlib.run.report (data imports run)``.
    """
    package_dir = Path(package_dir)
    violations = []
    for path in modules(package_dir):
        own_name, own_level = floor_of(module_name(path, package_dir), package_dir)
        may_import = GROUND_MAY_IMPORT if own_name == "ground" else own_level
        for imp in imports_of(path, package_dir):
            target = floor_of(imp.module, package_dir)
            if target is None:
                continue
            if not _is_module(imp.module, package_dir):
                violations.append(f"{imp.where(package_dir)} → {imp.module} (no such module)")
            elif target[1] > may_import:
                violations.append(f"{imp.where(package_dir)} → {imp.module} ({own_name} imports {target[0]})")
    return violations


def presentation_violations(package_dir: Path) -> list[str]:
    """Imports of plotting, display or ``<package>.present`` under the numbers-only floors."""
    package_dir = Path(package_dir)
    forbidden = tuple(f"{package_dir.name}.{m}" if m == "present" else m for m in PRESENTATION_MODULES)
    violations = []
    for floor in NUMBERS_ONLY:
        for path in modules(package_dir / floor) if (package_dir / floor).is_dir() else []:
            for imp in imports_of(path, package_dir):
                by_module = any(imp.module == m or imp.module.startswith(m + ".") for m in forbidden)
                by_name = any(name in PRESENTATION_NAMES for pair in imp.names for name in pair)
                if by_module or by_name:
                    violations.append(f"{imp.where(package_dir)} → {imp.module} ({imp.shown()})")
    return violations


def long_modules(package_dir: Path, max_lines: int = MAX_LINES) -> list[str]:
    """Modules over ``max_lines`` lines, as ``cxlib/analyses/roi.py: 1758 lines``."""
    package_dir = Path(package_dir)
    found = []
    for path in modules(package_dir):
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > max_lines:
            found.append(f"{path.relative_to(package_dir.parent)}: {lines} lines")
    return found


def _listing(violations: list[str]) -> str:
    return f"{len(violations)}:\n  " + "\n  ".join(violations)


# -- the project --------------------------------------------------------------------------------


def test_no_floor_imports_a_higher_floor():
    violations = floor_violations(PACKAGE_DIR)
    assert not violations, "imports from a lower floor to a higher one " + _listing(violations)


def test_models_and_analyses_import_no_presentation():
    violations = presentation_violations(PACKAGE_DIR)
    assert not violations, "plotting, display or cxlib.present imported by models/analyses " + _listing(violations)


def test_no_module_over_600_lines():
    found = long_modules(PACKAGE_DIR)
    assert not found, f"modules over {MAX_LINES} lines " + _listing(found)


def test_the_checkers_see_every_module_of_the_project():
    """Guard against a checker that passes because it read nothing: every floor has modules and
    imports, and each module maps to a floor."""
    paths = modules(PACKAGE_DIR)
    floors = {floor_of(module_name(p, PACKAGE_DIR), PACKAGE_DIR)[0] for p in paths}
    assert floors == {"ground", *FLOORS}
    imported = {imp.module for p in paths for imp in imports_of(p, PACKAGE_DIR)}
    assert "cxlib.data.load" in imported and "cxlib.run.commands" in imported


def test_tests_share_helpers_through_modules_not_through_each_other():
    """A helper two test files need lives in ``tests/_<what>.py`` (files, notebooks, worlds,
    Chromium, PostgreSQL), never in a test module another one imports."""
    tests_dir = PACKAGE_DIR.parent / "tests"
    borrowed = [
        f"{imp.where(tests_dir)} → {imp.module}"
        for path in modules(tests_dir)
        for imp in imports_of(path, tests_dir)
        if imp.module.split(".")[0] == "tests" and imp.module.split(".")[-1].startswith("test_")
    ]
    assert not borrowed, "test modules imported by other tests " + _listing(borrowed)


# -- the checkers, on packages written for the purpose --------------------------------------------


def _write_package(root: Path, files: dict[str, str]) -> Path:
    """A package ``cxlib`` under ``root`` with the floors' folders and the given modules."""
    package = root / "cxlib"
    for folder in ("", *FLOORS):
        (package / folder).mkdir(parents=True, exist_ok=True)
        (package / folder / "__init__.py").write_text("")
    for name in ("config", "exceptions"):
        (package / f"{name}.py").write_text("")
    for relative, text in files.items():
        (package / relative).parent.mkdir(parents=True, exist_ok=True)
        (package / relative).write_text(text)
    return package


def test_floor_checker_reports_each_upward_import_with_file_and_line(tmp_path):
    package = _write_package(
        tmp_path,
        {
            "data/load.py": "import os\nfrom cxlib.run.report import render\nfrom ..models import churn\n",
            "features/panel.py": "from cxlib.data import load\n\ndef f():\n    import cxlib.models.churn\n",
            "models/churn.py": "from ..features import panel\nfrom . import risk\n",
            "models/risk.py": "",
            "analyses/roi.py": (
                "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from cxlib.present.tables import t\n"
            ),
            "present/tables.py": "from cxlib.analyses import roi\nfrom cxlib import load\n",
            "run/report.py": "import importlib\nimportlib.import_module(f'cxlib.run.{1}')\n",
            "config.py": "from cxlib.features import panel\n",
            "exceptions.py": "from cxlib.data import load\nfrom cxlib.tables import pct\n",
        },
    )
    assert sorted(floor_violations(package)) == sorted(
        [
            "cxlib/config.py:1 → cxlib.features.panel (ground imports features)",
            "cxlib/data/load.py:2 → cxlib.run.report (data imports run)",
            "cxlib/data/load.py:3 → cxlib.models.churn (data imports models)",
            "cxlib/exceptions.py:2 → cxlib.tables (no such module)",
            "cxlib/features/panel.py:4 → cxlib.models.churn (features imports models)",
            "cxlib/analyses/roi.py:3 → cxlib.present.tables (analyses imports present)",
        ]
    )


def test_floor_checker_passes_a_package_that_keeps_its_floors(tmp_path):
    package = _write_package(
        tmp_path,
        {
            "data/load.py": "from cxlib.config import X\nfrom cxlib.exceptions import DataError\n",
            "models/churn.py": "from cxlib.features import panel\nfrom cxlib.data.load import load\n",
            "features/panel.py": "from ..data.load import load\n",
            "run/cli.py": (
                "from cxlib.present import tables\nimport importlib\nimportlib.import_module('cxlib.run.cli')\n"
            ),
            "present/tables.py": "from cxlib import config\n",
        },
    )
    assert floor_violations(package) == []


def test_presentation_checker_reports_plots_and_display_in_models_and_analyses(tmp_path):
    package = _write_package(
        tmp_path,
        {
            "models/churn.py": "import matplotlib.pyplot as plt\nfrom cxlib.present.plots import churn\n",
            "present/plots/__init__.py": "",
            "present/plots/churn.py": "",
            "analyses/claims.py": "def f():\n    from IPython.display import Markdown\n    import seaborn as sns\n",
            "analyses/roi.py": "from ..present.format import money\nimport numpy as np\n",
            "present/tables.py": "import matplotlib.pyplot as plt\n",
        },
    )
    assert sorted(presentation_violations(package)) == sorted(
        [
            "cxlib/models/churn.py:1 → matplotlib.pyplot (matplotlib.pyplot as plt)",
            "cxlib/models/churn.py:2 → cxlib.present.plots.churn (churn)",
            "cxlib/analyses/claims.py:2 → IPython.display (Markdown)",
            "cxlib/analyses/claims.py:3 → seaborn (seaborn as sns)",
            "cxlib/analyses/roi.py:1 → cxlib.present.format (money)",
        ]
    )


def test_long_module_checker_counts_lines(tmp_path):
    package = _write_package(tmp_path, {"models/big.py": "x = 1\n" * 601, "models/fits.py": "x = 1\n" * 600})
    assert long_modules(package) == ["cxlib/models/big.py: 601 lines"]
