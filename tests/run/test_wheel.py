"""cxlib as an installed package: built as a wheel, installed into a fresh virtual environment,
``cx simulate`` and ``cx run`` from an empty folder write there, and nowhere else.

The wheel is built from a copy of the checkout (so the build leaves nothing in it). The new
environment gets no dependency from the network: a ``.pth`` file puts the project
environment's site-packages *after* its own, so every dependency is the project's while
``cxlib`` is the wheel's (the project's editable cxlib is installed by a ``.pth`` of that
site-packages, which a ``.pth`` path does not run). The Jupyter data files of the dependencies
(nbconvert's base templates, the kernel spec) are where an installation would put them, under
the environment's ``share/jupyter``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from tests._worlds import QUICK_REPORT

pytestmark = pytest.mark.slow

CHECKOUT = Path(__file__).resolve().parents[2]
#: Left out of the copy the wheel is built from: what is not source (at the top of the checkout only).
NOT_SOURCE = {".git", ".venv", "build", "data", "reports", ".pytest_cache", "benchmarks"}
#: What the wheel must carry besides modules (read with importlib.resources at run time).
PACKAGE_DATA = (
    "cxlib/run/notebooks/00_summary.ipynb",
    "cxlib/run/notebooks/02_churn.ipynb",
    "cxlib/run/templates/cxreport/index.html.j2",
    "cxlib/run/templates/cxreport/conf.json",
    "cxlib/analyses/scenarios/default.yaml",
    "cxlib/data/sources/templates/zendesk.yaml",
)


def _copy_source(target: Path) -> Path:
    def ignore(folder, names):
        top = Path(folder).resolve() == CHECKOUT
        return [n for n in names if (top and n in NOT_SOURCE) or n == "__pycache__" or n.endswith(".egg-info")]

    shutil.copytree(CHECKOUT, target, symlinks=True, ignore=ignore)
    return target


def _listing(folder: Path) -> set[str]:
    """Every file under a folder, bytecode caches left out (Python writes those wherever it imports)."""
    return {
        str(p.relative_to(folder))
        for p in folder.rglob("*")
        if "__pycache__" not in p.parts and not p.name.endswith(".pyc")
    }


def _git_status() -> str:
    """The checkout's ``git status`` (empty where it is not a git checkout)."""
    status = subprocess.run(["git", "status", "--porcelain"], cwd=CHECKOUT, capture_output=True, text=True, check=False)
    return status.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(environment, its python, the environment for its processes) with the wheel installed."""
    root = tmp_path_factory.mktemp("wheel")
    source = _copy_source(root / "source")
    dist = root / "dist"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(dist)],
        check=True, capture_output=True, text=True,
    )
    (wheel,) = dist.glob("cxlib-*.whl")

    env_dir = root / "env"
    venv.create(env_dir, with_pip=False)
    python = env_dir / "bin" / "python"
    environ = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "CXLAB_HOME", "VIRTUAL_ENV")}
    environ["PATH"] = f"{env_dir / 'bin'}{os.pathsep}{environ.get('PATH', '')}"
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q", str(wheel)],
        check=True, capture_output=True, text=True, env=environ,
    )
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True, env=environ,
    ).stdout.strip()
    (Path(site) / "zz_project_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    (env_dir / "share").mkdir(exist_ok=True)
    (env_dir / "share" / "jupyter").symlink_to(Path(sys.prefix) / "share" / "jupyter")
    return {"wheel": wheel, "env": env_dir, "python": python, "site": Path(site), "environ": environ}


def test_the_wheel_carries_the_notebooks_templates_and_scenarios(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    missing = [p for p in PACKAGE_DATA if p not in names]
    assert not missing, f"not in the wheel: {missing}"


def test_the_installed_package_is_the_one_imported_by_processes_and_kernels(installed, tmp_path):
    env = installed["environ"]
    where = subprocess.run(
        [str(installed["python"]), "-c", "import cxlib; print(cxlib.__file__)"],
        cwd=tmp_path, check=True, capture_output=True, text=True, env=env,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed["site"]), where
    # A notebook's kernel (papermill's "python3") must run the same interpreter, hence the same cxlib.
    kernel = (
        "from jupyter_client.manager import start_new_kernel\n"
        "km, kc = start_new_kernel(kernel_name='python3')\n"
        "out = []\n"
        "kc.execute_interactive('import cxlib; print(cxlib.__file__)', timeout=60,\n"
        "    output_hook=lambda m: out.append(m['content'].get('text', '')))\n"
        "km.shutdown_kernel(now=True)\n"
        "print(''.join(out).strip())\n"
    )
    where = subprocess.run(
        [str(installed["python"]), "-c", kernel], cwd=tmp_path, check=True, capture_output=True, text=True, env=env,
        timeout=300,
    ).stdout.strip().splitlines()[-1]
    assert Path(where).is_relative_to(installed["site"]), where


def test_cx_simulate_and_run_from_an_empty_folder_write_only_there(installed, tmp_path):
    env, cx = installed["environ"], str(installed["env"] / "bin" / "cx")
    empty = tmp_path / "empty"
    empty.mkdir()
    params = tmp_path / "small.yaml"
    params.write_text("".join(f"{name}: {value}\n" for name, value in QUICK_REPORT.items()))
    environment_before = _listing(installed["env"])
    checkout_before = _listing(CHECKOUT / "data") | _listing(CHECKOUT / "reports")
    git_before = _git_status()

    simulated = subprocess.run(
        [cx, "simulate", "--customers", "1500", "--seed", "3", "--out", "data"],
        cwd=empty, capture_output=True, text=True, env=env, check=False,
    )
    assert simulated.returncode == 0, simulated.stderr
    assert (empty / "data" / "customers.csv").is_file() and (empty / "data" / "interactions.csv").is_file()

    ran = subprocess.run(
        [cx, "run", "--data", "data", "--params", str(params)],
        cwd=empty, capture_output=True, text=True, env=env, timeout=3600, check=False,
    )
    assert ran.returncode == 0, ran.stderr
    reports = empty / "reports"
    assert (reports / "latest.html").is_file() and (reports / "index.html").is_file()
    (run_dir,) = [p for p in reports.iterdir() if p.is_dir()]
    assert (run_dir / "report.html").is_file()
    assert "Traceback" not in ran.stderr

    assert {p.split("/")[0] for p in _listing(empty)} == {"data", "reports"}
    assert _listing(installed["env"]) == environment_before, "something was written beside the interpreter"
    assert _listing(CHECKOUT / "data") | _listing(CHECKOUT / "reports") == checkout_before
    git_after = _git_status()
    assert git_after == git_before, "the run wrote into the checkout"


def test_an_installed_package_writes_where_it_is_run_never_inside_itself(installed, tmp_path):
    """From a folder of one's own: that folder; from the packaged notebooks' folder (a JupyterLab
    kernel's working folder): ``~/cxlab``; ``$CXLAB_HOME`` over both."""
    env = {**installed["environ"], "HOME": str(tmp_path / "home")}
    show = "import cxlib.config as c; print(c.HOME_DIR)"

    def home_dir(cwd, **extra):
        return subprocess.run([str(installed["python"]), "-c", show], cwd=cwd, check=True, capture_output=True,
                              text=True, env={**env, **extra}).stdout.strip()

    notebooks = installed["site"] / "cxlib" / "run" / "notebooks"
    assert notebooks.is_dir()
    assert home_dir(tmp_path) == str(tmp_path.resolve())
    assert home_dir(notebooks) == str((tmp_path / "home" / "cxlab").resolve())
    assert home_dir(notebooks, CXLAB_HOME=str(tmp_path / "chosen")) == str((tmp_path / "chosen").resolve())
