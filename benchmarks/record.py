"""Run one cwdsl command and write what it printed as a results file, with the command, the
machine, the date, the commit, the load average and the wall time.

  python benchmarks/record.py benchmarks/results/reproduction/NAME.json -- cwdsl eval … --json

``reproduce/run.sh`` records every table of REPRODUCTION.md this way; the document renders
them (``tools/docgen.py``). What is kept: JSON stdout as ``results`` (``--json`` commands); for
``cwdsl sweep`` the CSV written beside its ``-o OUT.png`` (rows as objects), and its printed
table as ``text``; for ``cwdsl profile`` the profile written to ``-o``; otherwise stdout as
``text``. The command line is recorded as given (paths under ../shared as written), so a reader
can run it again.
"""
from __future__ import annotations

import csv
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from _common import load_average, write_results  # noqa: E402


def _option(args: list[str], *names: str) -> str | None:
    for i, arg in enumerate(args[:-1]):
        if arg in names:
            return args[i + 1]
    return None


def _json_of(stdout: str):
    """The JSON document a ``--json`` command printed (a line such as ``wrote fig.png`` may
    follow it), or None."""
    decoder = json.JSONDecoder()
    start = min((i for i in (stdout.find("{"), stdout.find("[")) if i >= 0), default=-1)
    if start < 0:
        return None
    try:
        return decoder.raw_decode(stdout, start)[0]
    except json.JSONDecodeError:
        return None


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") != 1:
        sys.exit(__doc__)
    out, command = Path(argv[0]), argv[2:]
    if not command or command[0] != "cwdsl":
        sys.exit("record.py: the command must start with cwdsl")
    env = {"OMP_NUM_THREADS": "1", **os.environ}
    load_before = load_average()
    start = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "cwdsl", *command[1:]], cwd=os.getcwd(),
                          env=env, stdout=subprocess.PIPE, text=True)
    seconds = round(time.monotonic() - start, 1)
    if done.returncode:
        sys.stdout.write(done.stdout)
        sys.exit(f"record.py: {shlex.join(command)}: exit {done.returncode}")
    extra: dict = {"seconds": seconds, "load_average_before": load_before,
                   "omp_num_threads": env["OMP_NUM_THREADS"],
                   # the schedules as they ran (a θ edited later does not relabel this run)
                   "schedules": {a: Path(a).read_text(encoding="utf-8") for a in command[2:]
                                 if a.endswith(".cw") and Path(a).is_file()}}
    results: object
    if command[1] == "sweep":
        png = Path(_option(command, "-o", "--out"))
        with open(png.with_suffix(".csv"), newline="", encoding="utf-8") as f:
            results = list(csv.DictReader(f))
        extra["text"] = done.stdout
    elif command[1] == "profile":
        results = json.loads(Path(_option(command, "-o", "--out")).read_text(encoding="utf-8"))
    else:
        results = _json_of(done.stdout)
        if results is None or not done.stdout.rstrip().endswith(("}", "]")):
            extra["text"] = done.stdout
    write_results(out, "record", results, command=shlex.join(command), **extra)
    print(f"{out}: {seconds} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
