"""Behaviour-identity check for refactors: the ``--json`` outputs of ``cwdsl simulate`` (the
ten paper schedules, several devices and clock sources) and ``cwdsl eval`` (the demo clip
and the ``shift16`` protocol) must stay byte-identical to the recorded references.

    python tools/check_identity.py            # compare with tools/identity/*.json
    python tools/check_identity.py --record   # (re)record the references

Run from the repository root with cwdsl installed. Exits 1 and names every differing
output; the weights path in ``eval`` output is made relative to the package so that the
references do not depend on where the checkout lives.
"""
from __future__ import annotations

import argparse
import difflib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
REFERENCES = ROOT / "tools" / "identity"
PAPER = ("adaptive", "alternating", "baseline2", "baseline3", "exponential", "oracle",
         "pipeline2", "pipeline3", "pixeldiff", "skipframe")
SCHEDULES = [f"schedules/{name}.cw" for name in PAPER]  # the references' ten, not newer ones

CASES: dict[str, list[str]] = {
    "simulate-titanx": ["simulate", *SCHEDULES, "--json"],
    "simulate-h100-fp16-fire03": ["simulate", *SCHEDULES, "--device", "h100", "--dtype",
                                  "float16", "--fire-rate", "0.3", "--frames", "2000", "--json"],
    "simulate-cpu-256": ["simulate", *SCHEDULES, "--device", "cpu", "--size", "256x256",
                         "--frames", "777", "--json"],
    "simulate-capacity": ["simulate", "schedules/oracle.cw", "schedules/adaptive.cw",
                          "schedules/pipeline3.cw", "--device", "h100", "--streams", "6",
                          "--fps", "30", "--seconds", "2", "--json"],
    "simulate-capacity-auto": ["simulate", "schedules/skipframe.cw", "schedules/pixeldiff.cw",
                               "--device", "a100", "--streams", "auto", "--seconds", "1",
                               "--json"],
    "eval-demo": ["eval", *SCHEDULES, "--data", "demo", "--quiet", "--json"],
    "eval-shift16": ["eval", *SCHEDULES, "--data", "shift16", "--scenes", "6", "--quiet",
                     "--json"],
}


def output(args: list[str]) -> str:
    done = subprocess.run(["cwdsl", *args], cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"cwdsl {' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
    import cwdsl
    package = str(Path(cwdsl.__file__).resolve().parent)
    return done.stdout.replace(package, "<cwdsl>")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write the references")
    parser.add_argument("cases", nargs="*", help=f"subset of: {', '.join(CASES)}")
    args = parser.parse_args()
    failed = []
    for name in args.cases or CASES:
        text = output(CASES[name])
        ref = REFERENCES / f"{name}.json"
        if args.record:
            ref.write_text(text)
            print(f"recorded {ref.relative_to(ROOT)}")
        elif ref.read_text() != text:
            failed.append(name)
            diff = difflib.unified_diff(ref.read_text().splitlines(), text.splitlines(),
                                        "recorded", "now", lineterm="", n=1)
            print(f"DIFFERS {name}:\n" + "\n".join(list(diff)[:40]))
        else:
            print(f"identical {name}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
