"""Every numeric option of every command (issue 19): 0, -1, nan, inf, 1e30 and 10**30 each
end in exit 0 or in exit 2 with the reason, never a traceback, in bounded time.

The options are found in the real parser: those whose type is int, float or one of the
numeric types of ``cwdsl.commands.options`` (marked ``numeric``). Each value is parsed
first; one the parser takes is then run, in-process, from the command's cheapest
invocation (a run that needs torch or a network is marked slow)."""
import argparse
import contextlib
import io
import signal
from pathlib import Path

import pytest

from cwdsl.commands.main import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
ORACLE = str(ROOT / "schedules/oracle.cw")
ADAPTIVE = str(ROOT / "schedules/adaptive.cw")
VALUES = ("0", "-1", "nan", "inf", "1e30", str(10**30))
TINY = "--net tiny --size 16x16 --quiet"
CLOCK_SCHEDULE = """network tiny input 32x32
stage s1 = conv1_1 .. pool3 head score_pool3
stage s2 = conv4_1 .. pool4 head score_pool4
stage s3 = conv5_1 .. fc7   head score_fr
compute s1 when 1
compute s2 when 1
compute s3 when labeldiff(s2) >= 0.05 else cache
output fuse(s1, s2, s3)
"""
BASE = {  # the cheapest invocation of each command; {tmp}: the test's folder
    "explain": ORACLE,
    "run": f"{ORACLE} --max-frames 1 --no-oracle --quiet --weights random --threads 1",
    "train": "--steps 1 --batch 1 --size 16x16 --quiet --threads 1 -o {tmp}/t.pt",
    "train-clock": "{tmp}/clock.cw --reads s2 --data scenes:2 --epochs 1 --gap 2 --quiet "
                   "--threads 1 -o {tmp}/clock.json",
    "profile": f"{TINY} --warmup 0 --repeats 1 --threads 1 -o {{tmp}}/p.json",
    "simulate": f"{ORACLE} --net tiny --size 32x32 --frames 100",
    "eval": f"{ORACLE} --data shift16 --scenes 1 {TINY}",
    "sweep": f"{ADAPTIVE} --data shift16 --scenes 1 --theta 0.1 {TINY} -o {{tmp}}/s.png",
    "layers": f"--data shift16 --scenes 1 {TINY}",
}
NEEDS = {  # options read only beside others, or of another schedule
    ("explain", "--fire-rate"): ADAPTIVE, ("explain", "--seed"): ADAPTIVE,
    ("simulate", "--fire-rate"): ADAPTIVE, ("simulate", "--seed"): ADAPTIVE,
    ("simulate", "--fps"): "--streams 2 --seconds 1", ("simulate", "--seconds"): "--streams 2",
    ("simulate", "--plot-frames"): "--plot {tmp}/p.png",
    ("run", "--max-batch"): "--streams 2",
}
LIGHT = {"check", "explain", "graph"}  # run in well under 2 s (no torch, no network)
TIMEOUT_S = 300


def subparsers() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def is_numeric(action: argparse.Action) -> bool:
    """Typed int or float, marked ``numeric``, or a type that reads "1" as a number."""
    if action.type in (int, float) or getattr(action.type, "numeric", False):
        return True
    try:
        return action.type is not None and isinstance(action.type("1"), (int, float))
    except (argparse.ArgumentTypeError, ValueError, TypeError):
        return False


def numeric_options() -> list[tuple[str, str]]:
    return [(name, action.option_strings[-1]) for name, p in subparsers().items()
            for action in p._actions if action.option_strings and is_numeric(action)]


def argv(command: str, option: str, value: str, tmp: str) -> list[str]:
    base = BASE.get(command, "").format(tmp=tmp).split()
    extra = NEEDS.get((command, option), "").format(tmp=tmp)
    if extra.endswith(".cw"):  # another schedule
        base[0], extra = extra, ""
    return [command, *base, *extra.split(), option, value]


def parses(args: list[str]) -> bool:
    """Whether the parser takes ``args`` (a refusal must be exit 2, naming the option)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        try:
            build_parser().parse_args(args)
        except SystemExit as e:
            assert e.code == 2, err.getvalue()
            assert "Traceback" not in err.getvalue()
            return False
    return True


def cases():
    for command, option in numeric_options():
        for value in VALUES:
            args = argv(command, option, value, "/tmp")
            slow = parses(args) and command not in LIGHT
            yield pytest.param(command, option, value,
                               marks=[pytest.mark.slow] if slow else [],
                               id=f"{command} {option} {value}")


def test_every_numeric_option_is_found_and_checked():
    found = numeric_options()
    assert ("simulate", "--fps") in found and ("run", "--streams") in found
    assert ("train-clock", "--hold-out") in found and ("explain", "--seed") in found
    assert ("eval", "--nproc") in found  # a type of its own, found by what it reads
    bare = [(name, a.option_strings[-1]) for name, p in subparsers().items()
            for a in p._actions if a.type in (int, float)]
    assert not bare, f"options typed int or float (nan, inf and 10**30 unchecked): {bare}"
    assert set(BASE) | LIGHT >= {name for name, _ in found}


class Timeout(Exception):
    pass


def _alarm(signum, frame):
    raise Timeout(f"no answer in {TIMEOUT_S} s")


@pytest.mark.parametrize("command, option, value", list(cases()))
def test_value_ends_in_exit_0_or_2_without_a_traceback(command, option, value, tmp_path,
                                                        capsys, monkeypatch):
    args = argv(command, option, value, str(tmp_path))
    if not parses(args):
        with pytest.raises(SystemExit) as info:
            build_parser().parse_args(args)
        err = capsys.readouterr().err
        assert info.value.code == 2 and f"argument {option}" in err and "Traceback" not in err
        return
    if command == "train":  # score on one small generated clip, not the held-out set
        import cwdsl.train.train as training
        from cwdsl.demo.scenes import generate_clip
        monkeypatch.setattr(training, "validation_clips",
                            lambda config: [generate_clip(1_000_000, 1, config.size)])
    (tmp_path / "clock.cw").write_text(CLOCK_SCHEDULE)
    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(TIMEOUT_S)
    try:
        code = main(args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    err = capsys.readouterr().err
    assert code in (0, 2), err
    assert "Traceback" not in err


@pytest.mark.parametrize("command, option, most", [
    ("run", "--streams", 1024), ("run", "--max-batch", 1024), ("simulate", "--streams", 4096),
    ("explain", "--seed", 2**32 - 1), ("train", "--seed", 2**32 - 1),
    ("simulate", "--plot-frames", 2000), ("eval", "--scenes", 1000),
])
def test_a_refused_size_names_the_largest_that_would_do(command, option, most, capsys):
    args = argv(command, option, str(most + 1), "/tmp")
    with pytest.raises(SystemExit):
        build_parser().parse_args(args)
    err = capsys.readouterr().err
    assert f"{most:,}" in err or str(most) in err
    build_parser().parse_args(argv(command, option, str(most), "/tmp"))  # the largest is taken


def test_streams_help_states_the_bound():
    from cwdsl.sim.capacity import MAX_STREAMS

    action = next(a for a in subparsers()["simulate"]._actions if "--streams" in a.option_strings)
    assert f"at most {MAX_STREAMS}" in action.help
