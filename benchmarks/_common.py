"""Shared helpers for benchmark scripts: timing, a machine description, and the one writer of
results files (``benchmarks/results/*.json``), which the documents render their measured figures
from (``tools/docgen.py``)."""
from __future__ import annotations

import json
import os
import platform
import shlex
import statistics
import subprocess
import sys
import time
from datetime import date, datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{cpu}, {os.cpu_count()} cores, Python {platform.python_version()}, {date.today()}"


def commit() -> str:
    """The checkout's short commit, ``+dirty`` when tracked files differ from it."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=ROOT, capture_output=True, text=True).stdout.strip()
        return head + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def load_average() -> float:
    """The 1-minute load average (other work on a shared machine), 0.0 where unknown."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return 0.0


def torch_version() -> str:
    try:
        import torch
        return torch.__version__
    except ImportError:  # pragma: no cover
        return "absent"


def write_results(path: str | Path, benchmark: str, results, *, command: str | None = None,
                  **extra) -> Path:
    """Write ``results`` as a results file: the benchmark's name, the command that measured it
    (default: this process's own command line), the machine, the date (UTC), the commit, torch,
    the load average when it finished, and ``extra`` fields (e.g. ``source`` for figures derived
    from files measured elsewhere). Returns the path."""
    path = Path(path)
    if command is None:
        command = _COMMAND[0] if _COMMAND else shlex.join(["python", _script(), *sys.argv[1:]])
    record = {"benchmark": benchmark, "command": command, "machine": machine(),
              "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
              "commit": commit(), "torch": torch_version(), "load_average": load_average(),
              **({"OMP_NUM_THREADS": os.environ["OMP_NUM_THREADS"]}
                 if "OMP_NUM_THREADS" in os.environ else {}),
              **extra, "results": results}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def median_time(fn, repeat: int = 7, number: int = 1) -> float:
    """Median over ``repeat`` runs of the mean time of ``number`` calls, in seconds."""
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(number):
            fn()
        runs.append((time.perf_counter() - start) / number)
    return statistics.median(runs)


class _Tee:
    def __init__(self, stream):
        self.stream, self.parts = stream, []

    def write(self, text):
        self.parts.append(text)
        return self.stream.write(text)

    def flush(self):
        self.stream.flush()


class recording:
    """``with recording(out, "bench_x") as rec:`` tees what the block prints and, when ``out``
    is set, writes it as the results file's ``text`` (with ``rec.results``, structured figures
    a script chooses to keep, as ``results``). The documents render the text as the script
    printed it (tools/docgen.py)."""

    def __init__(self, out: str | Path | None, benchmark: str, **extra):
        self.out, self.benchmark, self.extra = out, benchmark, extra
        self.results: object = None

    def __enter__(self):
        self.load_before = load_average()
        self.start = time.monotonic()
        self.tee = _Tee(sys.stdout)
        sys.stdout = self.tee
        return self

    def __exit__(self, kind, value, tb):
        sys.stdout = self.tee.stream
        if kind is None and self.out:
            path = write_results(self.out, self.benchmark, self.results,
                                 text="".join(self.tee.parts),
                                 seconds=round(time.monotonic() - self.start, 1),
                                 load_average_before=self.load_before, **self.extra)
            print(f"wrote {path}")
        return False


def pop_out() -> str | None:
    """Take ``--out FILE.json`` off ``sys.argv`` (before the script's own parser sees it) and
    return FILE.json, or None. The command recorded keeps it."""
    if "--out" not in sys.argv[1:]:
        return None
    i = sys.argv.index("--out")
    if i + 1 >= len(sys.argv):
        sys.exit("--out needs a FILE.json")
    out = sys.argv[i + 1]
    _COMMAND.append(shlex.join(["python", _script(), *sys.argv[1:]]))
    del sys.argv[i:i + 2]
    return out


_COMMAND: list[str] = []


def _script() -> str:
    script = Path(sys.argv[0])
    try:
        return str(script.resolve().relative_to(ROOT))
    except ValueError:
        return str(script)


def chosen_cases(doc: str, cases: dict, defaults: list[str] | None = None) -> tuple[list[str], Path]:
    """The command line of a benchmark of named ``cases``: ``CASE…`` (default
    ``defaults``, else every case) and ``--out-dir`` (default ``benchmarks/results``);
    an unknown case is a usage error naming the known ones."""
    import argparse

    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("cases", nargs="*", metavar="CASE", help=f"of {', '.join(cases)}")
    ap.add_argument("--out-dir", type=Path, default=RESULTS)
    args = ap.parse_args()
    unknown = [c for c in args.cases if c not in cases]
    if unknown:
        ap.error(f"unknown case(s) {', '.join(unknown)}; cases: {', '.join(cases)}")
    return args.cases or (defaults if defaults is not None else list(cases)), args.out_dir

