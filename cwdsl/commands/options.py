"""What several commands share: option types, the sub-parser with its example, the data
options of ``eval``, ``sweep`` and ``layers``, warnings, and the data/weights setup (threads and
processes: :mod:`cwdsl.commands.threads`)."""
from __future__ import annotations

import argparse
import math
import re
import sys

from cwdsl.core.errors import InputError

EXIT_USER_ERROR = 2


MAX_WHOLE = 2**31 - 1
"""The largest whole number an option takes unless its type says otherwise (a C ``int``:
what torch, numpy and the OS take for counts)."""


def whole_number(text: str, least: int, most: int = MAX_WHOLE, why: str = "") -> int:
    """``text`` as an int in ``least .. most``; an argparse error otherwise (``why``: the
    reason for ``most``, said when it is exceeded)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected at least {least}, got {value}")
    if value > most:
        raise argparse.ArgumentTypeError(f"expected at most {most:,}"
                                         + (f" ({why})" if why else "") + f", got {value}")
    return value


def positive_int(text: str) -> int:
    return whole_number(text, 1)


def count(text: str) -> int:
    return whole_number(text, 0)


def bounded_int(most: int, least: int = 1, why: str = ""):
    """An argparse type: a whole number in ``least .. most`` (``why``: the reason for
    ``most``, said when it is exceeded)."""
    def whole_in_range(text: str) -> int:
        return whole_number(text, least, most, why)

    whole_in_range.numeric = True
    return whole_in_range


def real_number(text: str, least: float, most: float, above: bool = False) -> float:
    """``text`` as a finite float in ``[least, most]`` (``(least, most]`` when ``above``);
    an argparse error naming the range otherwise (nan and inf included)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if math.isnan(value) or math.isinf(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text}")
    if value < least or above and value == least:
        low = f"above {least:g}" if above else f"of at least {least:g}"
        raise argparse.ArgumentTypeError(f"expected a number {low}, got {text}")
    if value > most:
        raise argparse.ArgumentTypeError(f"expected a number of at most {most:g}, got {text}")
    return value


def finite_float(least: float, most: float, above: bool = False):
    """An argparse type: :func:`real_number` in ``[least, most]`` (``(least, most]`` when
    ``above``)."""
    def number_in_range(text: str) -> float:
        return real_number(text, least, most, above)

    number_in_range.numeric = True
    return number_in_range


positive_int.numeric = count.numeric = True  # what tests/test_numeric_options.py tries

finite = finite_float(-math.inf, math.inf)
"""Any finite float (for options whose range the handler checks, with its own message)."""

positive_float = finite_float(0.0, math.inf, above=True)
"""A finite float above 0."""

fraction = finite_float(0.0, 1.0)
"""A float in ``[0, 1]`` (a probability, a share)."""

MAX_SEED = 2**32 - 1
"""The largest seed both numpy's legacy generator and torch's take."""

seed = bounded_int(MAX_SEED, 0, "what numpy and torch seed with")
"""``--seed``: a whole number in ``0 .. 2**32 - 1``."""

thread_count = bounded_int(1024, 1, "torch threads")
"""``--threads``: 1 .. 1024."""

MAX_STREAMS = 1024
"""``run --streams`` and ``--max-batch``: each stream holds a network state in one process."""

stream_count = bounded_int(MAX_STREAMS, 1, "each stream holds a network state")
"""``run --streams`` and ``--max-batch``: 1 .. :data:`MAX_STREAMS`."""

label_value = bounded_int(255, 0, "label maps hold 0..255")
"""``--void``: a label value, 0 .. 255."""

MAX_SCENES = 1000
"""``--scenes``: generated scenes are held in memory (about 0.4 MB each)."""


def size_arg(text: str) -> tuple[int, int]:
    """``HxW`` → (height, width), at most ``MAX_INPUT_SIDE`` a side; an argparse error (exit
    2, the option named) otherwise."""
    from cwdsl.core.units import MAX_INPUT_SIDE, parse_size

    try:
        size = parse_size(text)
    except InputError as e:
        raise argparse.ArgumentTypeError(e.diagnostics[0].message) from None
    if max(size) > MAX_INPUT_SIDE:
        raise argparse.ArgumentTypeError(f"size {text} is too large (at most {MAX_INPUT_SIDE} "
                                          f"a side)")
    return size


def score_mode(text: str) -> str:
    """``--score``: one of the protocol's ``SCORE_MODES``; an argparse error otherwise."""
    from cwdsl.evaluate.protocol import SCORE_MODES

    if text not in SCORE_MODES:
        raise argparse.ArgumentTypeError(f"use one of {', '.join(SCORE_MODES)}, not {text!r}")
    return text


def size_phrase(size: tuple[int, int] | None) -> str:
    """Where the network runs, for table headers: ``--size`` or the frames' own size."""
    return f"at {size[0]}x{size[1]} (--size)" if size else "at the frames' own size"


class Given(argparse.Action):
    """``store``, noting the option as given (:func:`given`) for checks that refuse it."""

    def __call__(self, parser, namespace, values, option_string=None):
        setattr(namespace, self.dest, values)
        namespace.given_options = {*getattr(namespace, "given_options", ()), self.dest}


def deadline_list(text: str) -> tuple[float, ...]:
    """``--deadline``: one frame deadline (``40ms``, ``0.04s``), or one per stream separated
    by commas (``40ms,66ms``); each above 0 and at most an hour; in ms."""
    from cwdsl.lang.ast import MAX_DEADLINE_MS
    from cwdsl.lang.parser import duration_ms

    out = []
    for part in text.split(","):
        part = part.strip()
        try:
            ms = duration_ms(part)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{part!r} is not a duration: give milliseconds or seconds with their unit, "
                f"such as 40ms or 0.04s") from None
        if not (math.isfinite(ms) and 0 < ms <= MAX_DEADLINE_MS):
            raise argparse.ArgumentTypeError(
                f"{part} must be longer than 0ms and at most an hour")
        out.append(ms)
    return tuple(out)


def add_deadline(p: argparse.ArgumentParser, streams: bool = False) -> None:
    """``--deadline D``: the frame deadline, replacing the schedule's (``streams``: one a
    stream allowed, comma-separated)."""
    per = " or one per stream, comma-separated (40ms,66ms)" if streams else ""
    p.add_argument("--deadline", type=deadline_list, metavar="D",
                   help=f"the frame deadline, from a frame's arrival to its result, such as "
                        f"40ms or 0.04s{per}: what a bare 'fits' keeps and what frames are "
                        f"counted on time against (replaces the schedule's 'deadline')")


def add_cost_model(p: argparse.ArgumentParser) -> None:
    """``--cost-model MODEL``: what an executor's ``fits`` decisions predict from."""
    p.add_argument("--cost-model", metavar="MODEL",
                   help="the device model 'fits' decisions predict stage times from until "
                        "they have measured them (then corrected by each frame's times): a "
                        "profile written by cwdsl profile, a device spec file, or a named "
                        "model (cpu, h100, h200, a100, titanx); default: the device's own "
                        "(cpu on a CPU)")


def one_deadline(args) -> float | None:
    """The one ``--deadline`` of a command that takes one (an ``InputError`` for several)."""
    if args.deadline is None:
        return None
    if len(args.deadline) > 1:
        raise InputError(f"--deadline: one deadline here, got {len(args.deadline)} "
                         f"({', '.join(f'{d:g}ms' for d in args.deadline)})")
    return args.deadline[0]


def given(args, dest: str) -> bool:  # whether the Given option at dest was on the command line
    return dest in getattr(args, "given_options", ())


def add_command(sub, name: str, handle, help: str, example: str) -> argparse.ArgumentParser:
    """Sub-command ``name``, run by ``handle(args) -> exit status``; its description is its
    help and its epilog shows ``example``."""
    p = sub.add_parser(name, help=help, description=help, epilog="example:\n  " + example,
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    p.set_defaults(handle=handle)
    return p


def add_dtype(p: argparse.ArgumentParser, what: str) -> None:
    """``--dtype``: the float type ``what`` (e.g. "the network runs in") uses."""
    from cwdsl.core.units import DTYPE_NAMES

    p.add_argument("--dtype", default="float32", choices=DTYPE_NAMES,
                   help=f"{what}: {', '.join(DTYPE_NAMES)} (default float32; float16 needs "
                        f"cuda)")


def add_data_options(p: argparse.ArgumentParser, default: str = "demo", extra: str = "",
                     net_default: str = "tiny for generated data, else the schedule's",
                     time_column: bool = True, codec: bool = False) -> None:
    """What ``eval``, ``sweep`` and ``layers`` run on: data, network, weights, devices
    (``--sim-device`` only with a ``time_column``), the scored crops, the frames kept of a
    sequence (``--stride``), the network's size and (``codec``) an encoding first."""
    p.add_argument("--data", default=default,
                   help="demo, shift16 or shift32 (translated crops of generated scenes), "
                        "shift16:DIR or shift32:DIR (of a labeled folder's images), motion[,"
                        "OPTIONS]:DIR (a camera panning, zooming, turning over each labeled "
                        f"still), or DIR (DIR/images, DIR/labels){extra or '; default demo'}")
    p.add_argument("--net", metavar="NAME",
                   help=f"network to run (default: {net_default})")
    p.add_argument("--weights", metavar="PATH",
                   help="weights (default: the network's bundled ones); 'random' for timing only")
    p.add_argument("--void", type=label_value, metavar="LABEL",
                   help="label value to ignore in a labeled folder (CamVid: 11)")
    p.add_argument("--scenes", type=bounded_int(MAX_SCENES, 1, "each is held in memory"),
                   default=24, action=Given,
                   help=f"generated scenes of shift16/shift32 (not for other data), at most "
                        f"{MAX_SCENES} (default 24)")
    p.add_argument("--score", default="filled", type=score_mode, metavar="filled|all", action=Given,
                   help="which translated crops of shift16/shift32(:DIR) are scored: filled "
                        "(default; frames 2-5, after frames 0-1 fill the pipelines, as the "
                        "paper's authors score) or all (all six); not for other data")
    p.add_argument("--stride", type=positive_int, default=1, metavar="N",
                   help="keep every N-th frame of a sequence (demo, DIR) from frame 0, so the "
                        "scene moves N times as far per frame (CamVid's 15 Hz at 3: 5 Hz); "
                        "not for shift16/shift32, whose motion is the shift (default 1)")
    p.add_argument("--size", type=size_arg, metavar="HxW",
                   help="run the network on frames resized (bilinear) to HEIGHTxWIDTH and "
                        "resize its scores back (bilinear) to the labels' size before the "
                        "argmax" + ("; the time column prices this size" if time_column else "")
                        + " (default: the frames' own size)")
    p.add_argument("--device", default="cpu", help="where the network runs: cpu or cuda")
    if codec:
        p.add_argument("--codec", metavar="h264[:crf=N,gop=G,bframes=B]",
                       help="encode every clip with this codec (h264 or mpeg4; default "
                            "settings crf=23, gop=250, bframes=0) and run every schedule on "
                            "the decoded frames, each with its motion vectors: what "
                            "warp(flow=codec) needs")
    if time_column:
        p.add_argument("--sim-device", default="titanx",
                       help="device model for the time column (as simulate --device; "
                            "default titanx)")


def print_warnings(program) -> None:
    """A checked program's warnings, on stderr."""
    for warning in program.warnings:
        print(warning.render(), file=sys.stderr)


def check_data_options(args) -> None:
    """An ``InputError`` for ``--scenes`` (acts on shiftN), ``--score`` (shiftN, shiftN:DIR),
    ``--void`` (labeled folders) where no data read (``--data``, ``--tune``) is one."""
    tune = getattr(args, "tune", None)
    specs = {args.data: "--data"} | ({tune: "--tune"} if tune and tune[:6] != "split:" else {})
    named = " and ".join(f"{option} {spec}" for spec, option in specs.items())
    if given(args, "scenes") and not any(re.fullmatch(r"shift\d+", s) for s in specs):
        raise InputError(f"--scenes {args.scenes}: sets how many scenes shift16 and shift32 "
                         f"generate, and {named} is neither")
    if given(args, "score") and not any(re.fullmatch(r"shift\d+(:.+)?", s, re.S) for s in specs):
        raise InputError(f"--score {args.score}: {named} has no translated crops to pick "
                         f"from; --score is for shift16, shift32, shift16:DIR, shift32:DIR")
    if args.void is not None and all(s in ("demo", "motion") or re.fullmatch(r"shift\d+", s)
                                     for s in specs):
        raise InputError(f"--void {args.void}: {named} is generated, and its labels have no "
                         f"void value; --void is for a labeled folder (DIR, shiftN:DIR)")


def data_setup(args, network: str):
    """Weights and data for ``eval``, ``sweep`` and ``layers``, checked before any work."""
    from cwdsl.core.netspec import get_network
    from cwdsl.evaluate.protocol import load_eval_data
    from cwdsl.nets.bundled import resolve_weights
    from cwdsl.runtime.device import resolve_device

    check_data_options(args)
    weights = resolve_weights(network, args.weights)
    resolve_device(args.device)
    data = load_eval_data(args.data, get_network(network).num_classes, args.void, args.scenes,
                          args.score, args.stride)
    return weights, encoded(args, data)


def encoded(args, data):
    """``data`` encoded and decoded by ``--codec`` when given (else as it is)."""
    if getattr(args, "codec", None) is None:
        return data
    from cwdsl.evaluate.codecdata import encode_data
    from cwdsl.media.transcode import parse_codec

    return encode_data(data, parse_codec(args.codec), progress=not getattr(args, "quiet", True))


def eval_setup(args, programs):
    """:func:`data_setup` for schedules that must share one network, plus the device
    model of the time column."""
    from cwdsl.fitting.load import load_device

    nets = {p.network.name for p in programs}
    if len(nets) > 1:
        raise InputError(f"the schedules name different networks ({', '.join(sorted(nets))}); "
                         f"give --net to run them all on one")
    for program in programs:
        print_warnings(program)
    model = load_device(args.sim_device)
    weights, data = data_setup(args, programs[0].network.name)
    return weights, model, data


def eval_network(args) -> str | None:
    """``--net`` (checked: an unknown name is a command-line error), else the demo network
    for generated data (None: the schedule's)."""
    from cwdsl.core.netspec import get_network
    from cwdsl.demo.clip import DEMO
    from cwdsl.evaluate.protocol import is_generated

    if args.net:
        return get_network(args.net, option="--net").name
    return DEMO.network if is_generated(args.data) else None


def add_clock_source(p, cycled: bool = False) -> None:
    """``--fire-rate P`` | ``--trace RUN.json``, and ``--seed``: where data-driven clock
    values come from when nothing runs (see :func:`clock_source`)."""
    source = p.add_mutually_exclusive_group()
    source.add_argument("--fire-rate", type=fraction, metavar="P",
                        help="data-driven clocks fire with probability P (default 0.5)")
    source.add_argument("--trace", metavar="RUN.json",
                        help="replay data-driven clock values from a run record"
                             + (" (cycled)" if cycled else ""))
    p.add_argument("--seed", type=seed, default=0, action=Given,
                   help=f"seed for --fire-rate (not --trace), 0..{MAX_SEED} (default 0)")


def clock_source(args):
    """The :class:`~cwdsl.ir.trace.ClockSource` the options of :func:`add_clock_source` name
    (``--seed`` with ``--trace``, which draws nothing: an ``InputError``)."""
    from cwdsl.ir.trace import ClockSource

    if given(args, "seed") and args.trace:
        raise InputError(f"--seed {args.seed}: --trace replays recorded clock values and draws "
                         f"nothing; --seed seeds --fire-rate's draws")
    return ClockSource(args.trace, args.fire_rate, args.seed)


def add_fast_path(p: argparse.ArgumentParser) -> None:
    """How the executor runs the network: ``--channels-last``/``--no-channels-last``,
    ``--compile``, ``--cuda-graphs`` (read back by :func:`fast_path`)."""
    p.add_argument("--channels-last", action=argparse.BooleanOptionalAction, default=None,
                   help="store weights and frames channels_last (NHWC); default: channels_last "
                        "on CUDA and on CPUs, where it measured faster; --no-channels-last "
                        "keeps torch's contiguous layout")
    p.add_argument("--compile", action="store_true",
                   help="run each stage and the fuse through torch.compile (compiles on the "
                        "first frames of each input size: slow to start, faster after)")
    p.add_argument("--cuda-graphs", action="store_true",
                   help="capture each stage and the fuse once as a CUDA graph and replay it "
                        "(needs --device cuda; cuts the launch cost of small stages)")


def fast_path(args) -> dict:
    """The executor options :func:`add_fast_path`'s flags name (``memory_format``,
    ``compile``, ``cuda_graphs``); an ``InputError`` for CUDA graphs off CUDA."""
    if args.cuda_graphs and not str(args.device).startswith("cuda"):
        raise InputError(f"--cuda-graphs needs --device cuda (the device is {args.device})")
    memory = {None: "auto", True: "channels_last", False: "contiguous"}[args.channels_last]
    return {"memory_format": memory, "compile": args.compile, "cuda_graphs": args.cuda_graphs}
