"""What every benchmark script shares: timing a command in its own process, and the data sets.

A case runs as a child process so its peak memory is its own (``os.wait4`` returns the
child's resource usage); figures are written as markdown under ``benchmarks/results/``
and gathered into ``benchmarks/RESULTS.md`` by ``run_all.py``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
DATA_DIR = Path(os.environ.get("CXLAB_BENCH_DATA", HERE / "out"))
PYTHON = sys.executable


def measure(argv: list[str], *, env=None) -> tuple[float, float, int]:
    """Run ``argv``; return (seconds, peak RSS in MB, exit code) of that process alone."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        err = proc.stderr.read().decode(errors="replace")[-2000:]
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}:\n{err}")
    proc.stderr.close()
    return seconds, usage.ru_maxrss / 1024, proc.returncode


class PeakRSS:
    """Highest summed RSS (MB) of a process and all its descendants while the block runs.

    Sampled in a thread. It counts a JVM or any other child a step starts, which
    ``os.wait4`` on the process alone would not; without children it is the process's RSS.
    """

    def __init__(self, pid: int | None = None, interval: float = 0.05):
        import psutil

        self._root = psutil.Process(pid or os.getpid())
        self.interval = interval
        self.peak = 0.0

    def sample(self) -> float:
        import psutil

        total = 0
        try:
            tree = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:  # the process has ended
            return self.peak
        for proc in tree:
            try:
                total += proc.memory_info().rss
            except psutil.Error:
                pass
        self.peak = max(self.peak, total / 2**20)
        return self.peak

    def _run(self):
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self.sample()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self.sample()


def dataset(customers: int, fmt: str = "csv", seed: int = 1) -> Path:
    """A simulated data set, generated once and reused between benchmark runs."""
    path = DATA_DIR / f"sim-{customers}-{fmt}-s{seed}"
    if not (path / "truth.json").exists():
        subprocess.run(
            [PYTHON, "-m", "cxlib.run.cli", "simulate", "--customers", str(customers), "--seed", str(seed),
             "--format", fmt, "--out", str(path)],
            check=True,
        )
    return path


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem_gb:.0f} GiB RAM, {platform.system()} {platform.release()}, Python {platform.python_version()}"


def write_section(name: str, title: str, command: str, header: list[str], rows: list[list], notes: str = "") -> Path:
    """Write one step's figures as a markdown section under benchmarks/results/."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    lines = [
        f"## {title}",
        "",
        f"- machine: {machine()}",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- command: `{command}`",
        "",
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
    ]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    if notes:
        lines += ["", notes]
    path = RESULTS_DIR / f"{name}.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return path
