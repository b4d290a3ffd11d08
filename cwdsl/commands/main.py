"""The ``cwdsl`` command line. User errors print as ``file:line:col: message`` and exit 2."""
from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path

from cwdsl.core.errors import CwdslError, InputError
from cwdsl.core.figures import check_plot_path

EXIT_USER_ERROR = 2


def _whole_number(text: str, least: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < least:
        raise argparse.ArgumentTypeError(f"expected at least {least}, got {value}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, 1)


def _count(text: str) -> int:
    return _whole_number(text, 0)


def _command(sub, name: str, help: str, example: str):
    return sub.add_parser(name, help=help, description=help,
                          epilog="example:\n  " + example,
                          formatter_class=argparse.RawDescriptionHelpFormatter)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="cwdsl",
        description="Clockwork convnets as a language: schedule video segmentation networks.",
        epilog="example:\n  cwdsl explain schedules/exponential.cw --frames 8",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--debug", action="store_true", help="show tracebacks for errors")
    parser.add_argument("--plugin", action="append", default=[], metavar="FILE.py",
                        help="import a Python file first (e.g. one that registers networks "
                             "with cwdsl.register_network); repeatable")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = _command(sub, "check", "parse and check schedules; report every error and warning",
                 "cwdsl check schedules/*.cw")
    p.add_argument("files", nargs="+", metavar="FILE")
    p.add_argument("--print", action="store_true", help="print each schedule in canonical form")

    p = _command(sub, "explain", "print the frame × stage plan of a schedule",
                 "cwdsl explain schedules/adaptive.cw --frames 12 --fire-rate 0.3")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--frames", type=_positive_int, default=8, help="frames to plan (default 8)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--fire-rate", type=float, metavar="P",
                        help="data-driven clocks fire with probability P (default 0.5)")
    source.add_argument("--trace", metavar="RUN.json",
                        help="replay data-driven clock values from a run record")
    p.add_argument("--seed", type=int, default=0, help="seed for --fire-rate (default 0)")

    p = _command(sub, "graph", "draw the compiled computation graph with its clock gates",
                 "cwdsl graph schedules/pipeline3.cw -o pipeline3.png")
    p.add_argument("file", metavar="FILE")
    p.add_argument("-o", "--out", required=True, metavar="OUT",
                   help="output picture: .png, .svg, .pdf or .dot")
    p = _command(sub, "run", "run a schedule over video with a real network",
                 "cwdsl run schedules/adaptive.cw --out out/ --save masks,overlay")
    p.add_argument("schedule", metavar="SCHEDULE")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--video", metavar="PATH", help="a video file (mp4, avi, webm, mkv, …)")
    src.add_argument("--frames", dest="frames_dir", metavar="DIR",
                     help="a folder of images, in name order")
    p.add_argument("--net", metavar="NAME",
                   help="run on this network instead of the schedule's (same layer names); "
                        "default for the demo: tiny")
    p.add_argument("--weights", metavar="PATH",
                   help="state dict to load; default for tiny: the bundled demo weights; "
                        "'random' for timing runs")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float16", "bfloat16"))
    p.add_argument("--out", metavar="DIR", help="write run.json (and --save items) here")
    p.add_argument("--max-frames", type=_positive_int, metavar="N")
    p.add_argument("--save", default="", metavar="ITEMS",
                   help="comma-separated: masks (palette PNGs), overlay (overlay.mp4)")
    p.add_argument("--sequential", action="store_true",
                   help="run pipelined stages one after the other instead of concurrently")
    p.add_argument("--no-oracle", action="store_true",
                   help="skip the comparison with the frame oracle on the demo")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = _command(sub, "train", "train a network on generated labeled scenes or a labeled folder",
                 "cwdsl train --net tiny --steps 6000 -o tiny.pt\n"
                 "  cwdsl train --net fcn8s_camvid --data camvid/train --val camvid/val "
                 "--void 11 --steps 2500 --batch 6 -o camvid.pt")
    p.add_argument("--net", default="tiny")
    p.add_argument("--steps", type=_positive_int, default=6000,
                   help="optimiser steps (default 6000: about 13 minutes on 2 CPU cores)")
    p.add_argument("--batch", type=_positive_int, default=8)
    p.add_argument("--size", metavar="HxW", help="training crop (default: the network's input)")
    p.add_argument("--lr", type=float, default=2e-3, help="peak learning rate (one-cycle)")
    p.add_argument("--data", metavar="DIR",
                   help="a labeled folder (DIR/images, DIR/labels) instead of generated scenes")
    p.add_argument("--val", metavar="DIR", help="with --data: the held-out labeled folder")
    p.add_argument("--void", type=int, metavar="LABEL",
                   help="with --data: the label value to ignore (CamVid: 11)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("-o", "--out", required=True, metavar="PATH",
                   help="weights file; the report goes beside it as .json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = _command(sub, "profile", "time every layer, head, fuse and clock of a network on a device",
                 "cwdsl profile --net fcn8s --size 256x256 --device cpu -o cpu.json")
    p.add_argument("--net", required=True)
    p.add_argument("--size", required=True, metavar="HxW")
    p.add_argument("--device", default="cpu", help="cpu or cuda[:N] (default cpu)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float16", "bfloat16"))
    p.add_argument("--weights", metavar="PATH", help="weights to load (timings rarely depend on them)")
    p.add_argument("--warmup", type=_count, default=2, help="untimed runs first (default 2)")
    p.add_argument("--repeats", type=_positive_int, default=7, help="timed runs; medians are kept")
    p.add_argument("--threads", type=_positive_int, help="torch threads (default: torch's)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.json")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = _command(sub, "simulate", "estimate latency and compute of schedules without running them",
                 "cwdsl simulate schedules/*.cw --net fcn8s --size 500x500 --device h100")
    p.add_argument("schedules", nargs="+", metavar="SCHEDULE")
    p.add_argument("--net", metavar="NAME", help="price the schedules on this network instead")
    p.add_argument("--size", metavar="HxW", help="input size (default: the schedule's)")
    p.add_argument("--device", default="titanx",
                   help="h100, h200, a100, titanx, cpu, a device spec JSON, or a profile JSON "
                        "from cwdsl profile (default titanx, the paper's GPU)")
    p.add_argument("--dtype", default="float32", choices=("float32", "float16", "bfloat16"))
    p.add_argument("--frames", type=_positive_int, default=10_000, help="frames (default 10000)")
    source = p.add_mutually_exclusive_group()
    source.add_argument("--fire-rate", type=float, metavar="P",
                        help="data-driven clocks fire with probability P (default 0.5)")
    source.add_argument("--trace", metavar="RUN.json",
                        help="replay data-driven clock values from a run record (cycled)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--plot", metavar="OUT.png", help="draw per-frame work and latency")
    p.add_argument("--streams", metavar="N|auto",
                   help="capacity: N camera streams share the device ('auto': the most it sustains)")
    p.add_argument("--fps", type=float, default=30.0, help="frame rate of each stream (default 30)")
    p.add_argument("--seconds", type=float, default=10.0, help="simulated seconds (default 10)")
    p = _command(sub, "eval", "score schedules on labeled video (the paper's Tables 3-6)",
                 "cwdsl eval schedules/oracle.cw schedules/pipeline3.cw --data shift16\n"
                 "  cwdsl eval schedules/*.cw --data camvid/val --net fcn8s_camvid --void 11")
    p.add_argument("schedules", nargs="+", metavar="SCHEDULE")
    _add_data_options(p)
    p.add_argument("--timeline", metavar="OUT.png",
                   help="plot when each schedule computed every stage on the first clip (Fig. 7)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = _command(sub, "sweep", "score a schedule over a range of its clock threshold (Fig. 6)",
                 "cwdsl sweep schedules/adaptive.cw --theta 0:0.5:0.05 -o sweep.png")
    p.add_argument("schedule", metavar="SCHEDULE")
    p.add_argument("--theta", default="0:0.5:0.05",
                   help="START:STOP:STEP or a list a,b,c (default 0:0.5:0.05)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.png",
                   help="the plot; the table goes beside it as .csv")
    _add_data_options(p)
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = _command(sub, "layers", "how fast each score layer changes; truncated outputs' accuracy "
                                "(Table 1, Fig. 2)",
                 "cwdsl layers --plot fig2.png\n"
                 "  cwdsl layers --data camvid/val --net fcn8s_camvid --void 11")
    _add_data_options(p, default="motion",
                      extra="; motion: two generated clips, large and small motion (default)")
    p.add_argument("--plot", metavar="OUT.png", help="per-frame temporal difference (Fig. 2)")
    p.add_argument("--json", action="store_true", help="print JSON instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def _add_data_options(p, default: str = "demo", extra: str = "") -> None:
    """What ``eval``, ``sweep`` and ``layers`` run on: data, network, weights, devices."""
    p.add_argument("--data", default=default,
                   help="demo, shift16 or shift32 (translated crops of generated scenes), "
                        "shift16:DIR or shift32:DIR (of a labeled folder's images), or DIR (a "
                        f"labeled sequence: DIR/images, DIR/labels){extra or '; default demo'}")
    p.add_argument("--net", metavar="NAME",
                   help="network to run (default: tiny for generated data, else the schedule's)")
    p.add_argument("--weights", metavar="PATH",
                   help="weights (default: the network's bundled ones); 'random' for timing only")
    p.add_argument("--void", type=int, metavar="LABEL", help="label value to ignore (CamVid: 11)")
    p.add_argument("--scenes", type=_positive_int, default=24,
                   help="generated scenes for shift16/shift32 (default 24)")
    p.add_argument("--device", default="cpu", help="where the network runs: cpu or cuda")
    p.add_argument("--sim-device", default="titanx",
                   help="device model for the time column (as simulate --device; default titanx)")


def _load_plugins(paths: list[str]) -> None:
    for i, path in enumerate(paths):
        file = Path(path)
        if not file.is_file():
            raise InputError(f"{path}: no such plugin file")
        spec = importlib.util.spec_from_file_location(f"cwdsl_plugin_{i}", file)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except CwdslError:
            raise
        except Exception as e:  # a user's file: report it, don't crash
            raise InputError(f"{path}: the plugin failed to import: "
                             f"{type(e).__name__}: {e}") from e


def _print_warnings(program) -> None:
    for warning in program.warnings:
        print(warning.render(), file=sys.stderr)


def cmd_check(args) -> int:
    from cwdsl.ir.graph import load
    from cwdsl.lang.printer import print_schedule

    failed = 0
    for path in args.files:
        try:
            program = load(path)
        except CwdslError as e:
            print(e, file=sys.stderr)
            failed += 1
            continue
        _print_warnings(program)
        if args.print:
            print(print_schedule(program.schedule), end="")
        else:
            atoms = f", {len(program.atoms)} data-driven clock(s)" if program.atoms else ""
            print(f"ok  {path}: {program.network.name}, stages "
                  f"{', '.join(program.stages)}{atoms}")
    if failed:
        print(f"{failed} of {len(args.files)} schedule(s) have errors", file=sys.stderr)
    return EXIT_USER_ERROR if failed else 0


def cmd_explain(args) -> int:
    from cwdsl.ir.explain import plans, render_grid
    from cwdsl.ir.graph import load
    from cwdsl.ir.plan import Planner
    from cwdsl.ir.trace import fire_rate_atoms, trace_atoms

    program = load(args.file)
    _print_warnings(program)
    planner = Planner(program)
    atoms = None
    note = ""
    if program.atoms:
        if args.trace:
            atoms = trace_atoms(args.trace, program.atoms, args.frames)
            note = f"data-driven clocks replayed from {args.trace}"
        else:
            rate = 0.5 if args.fire_rate is None else args.fire_rate
            atoms = fire_rate_atoms(program.atoms, args.frames, rate, args.seed)
            note = f"data-driven clocks drawn at fire rate {rate} (seed {args.seed})"
    print(render_grid(planner, plans(planner, args.frames, atoms)))
    if note:
        print(note)
    return 0


def cmd_graph(args) -> int:
    from cwdsl.ir.draw import draw
    from cwdsl.ir.graph import load

    program = load(args.file)
    _print_warnings(program)
    out = draw(program, args.out)
    print(f"wrote {out} ({program.graph.number_of_nodes()} nodes, "
          f"{program.graph.number_of_edges()} edges)")
    return 0


def cmd_run(args) -> int:
    from cwdsl.runtime.run import RunOptions, run, summary_table

    options = RunOptions(
        schedule=args.schedule, video=args.video, frames_dir=args.frames_dir, net=args.net,
        weights=args.weights, device=args.device, dtype=args.dtype, out=args.out,
        max_frames=args.max_frames,
        save=frozenset(item.strip() for item in args.save.split(",") if item.strip()),
        concurrency="sequential" if args.sequential else "auto",
        oracle=False if args.no_oracle else None, progress=not args.quiet)
    record = run(options)
    print(summary_table(record))
    if args.out:
        written = ["run.json"] + [name for item, name in (("masks", "masks/"),
                                                          ("overlay", "overlay.mp4"))
                                  if item in options.save]
        print(f"wrote {', '.join(str(Path(args.out) / w) for w in written)}")
    return 0


def cmd_train(args) -> int:
    from cwdsl.evaluate.train import TrainConfig, train_to

    from cwdsl.core.netspec import get_network
    from cwdsl.sim.profile import parse_size

    size = parse_size(args.size) if args.size else get_network(args.net).default_input
    if args.lr <= 0:
        raise InputError(f"--lr must be positive, got {args.lr}")
    report = train_to(TrainConfig(net=args.net, steps=args.steps, batch=args.batch,
                                  size=tuple(size), lr=args.lr, seed=args.seed, data=args.data,
                                  val=args.val, void=args.void), args.out,
                      progress=not args.quiet)
    print(f"trained {args.net} for {args.steps} steps in {report.seconds / 60:.1f} min; "
          f"final loss {report.final_loss:.3f}")
    for name, miu in report.val_mean_iu.items():
        print(f"held-out mean IU, output {name:<6}: {100 * miu:.1f}")
    print(f"wrote {args.out} and {Path(args.out).with_suffix('.json')}")
    return 0


def cmd_profile(args) -> int:
    from cwdsl.sim.profile import run_profile

    out = run_profile(args.net, args.size, args.device, args.dtype, args.out, args.weights,
                      progress=not args.quiet, warmup=args.warmup, repeats=args.repeats,
                      threads=args.threads)
    print(f"wrote {out}")
    return 0


def _data_setup(args, network: str):
    """Weights and data for ``eval``, ``sweep`` and ``layers``, checked before any work."""
    from cwdsl.core.netspec import get_network
    from cwdsl.evaluate.protocol import load_eval_data
    from cwdsl.runtime.run import _device, resolve_weights

    weights = resolve_weights(network, args.weights)
    _device(args.device)
    data = load_eval_data(args.data, get_network(network).num_classes, args.void, args.scenes)
    return weights, data


def _eval_setup(args, programs):
    """:func:`_data_setup` for schedules that must share one network, plus the device
    model of the time column."""
    from cwdsl.sim.devices import load_device

    nets = {p.network.name for p in programs}
    if len(nets) > 1:
        raise InputError(f"the schedules name different networks ({', '.join(sorted(nets))}); "
                         f"give --net to run them all on one")
    for program in programs:
        _print_warnings(program)
    model = load_device(args.sim_device)
    weights, data = _data_setup(args, programs[0].network.name)
    return weights, model, data


def _eval_network(args) -> str | None:
    """``--net``, else ``tiny`` (the bundled demo network) for generated data."""
    from cwdsl.evaluate.protocol import is_generated
    from cwdsl.runtime.run import DEMO_NETWORK

    return args.net or (DEMO_NETWORK if is_generated(args.data) else None)


def cmd_eval(args) -> int:
    import json

    from cwdsl.evaluate.evaluation import evaluate_schedules, format_eval_table, plot_timeline
    from cwdsl.ir.graph import load

    network = _eval_network(args)
    check_plot_path(args.timeline)
    programs = [load(path, network) for path in args.schedules]
    weights, model, data = _eval_setup(args, programs)
    rows = evaluate_schedules(data, weights, programs, args.device, model,
                              progress=not args.quiet)
    net = programs[0].network.name
    if args.json:
        print(json.dumps({"data": data.description, "network": net, "weights": weights,
                          "rows": rows}, indent=2))
    else:
        header = (f"{data.description}; {data.scored} scored frames; network {net}; "
                  f"time on {model.name} ({model.source}) at the clips' size")
        print(format_eval_table(rows, header))
    if args.timeline:
        plot_timeline(args.timeline, rows, data, f"{data.clips[0].name or data.description}: "
                                                 f"frames computing every stage (network {net})")
        if not args.json:
            print(f"wrote {args.timeline}")
    return 0


def cmd_sweep(args) -> int:
    from cwdsl.core.atomic import write_text
    from cwdsl.evaluate.evaluation import evaluate_schedules, format_eval_table
    from cwdsl.evaluate.sweep import parse_range, plot_sweep, sweep_csv, sweep_programs

    out = Path(args.out)
    check_plot_path(out)
    thetas = parse_range(args.theta)
    programs, oracle = sweep_programs(args.schedule, thetas, _eval_network(args))
    weights, model, data = _eval_setup(args, [oracle, *programs])
    rows = evaluate_schedules(data, weights, [oracle, *programs], args.device, model,
                              progress=not args.quiet)
    oracle_row, rows = rows[0], rows[1:]
    oracle_row["schedule"] = "frame oracle"
    for theta, row in zip(thetas, rows):
        row["schedule"] = f"θ = {theta:g}"
    csv_path = out.with_suffix(".csv")
    write_text(csv_path, sweep_csv(thetas, rows))
    plot_sweep(out, thetas, rows, oracle_row,
               f"{programs[0].name} on {data.description}\nnetwork {oracle.network.name}")
    print(format_eval_table([oracle_row, *rows], f"{data.description}; network "
                                                  f"{oracle.network.name}"))
    print(f"wrote {out} and {csv_path}")
    return 0


def cmd_layers(args) -> int:
    import json

    from cwdsl.evaluate.layers import format_layer_table, layer_stats, layer_table, motion_clips, \
        plot_changes
    from cwdsl.evaluate.evaluation import prepare_network
    from cwdsl.core.netspec import get_network
    from cwdsl.runtime.run import DEMO_NETWORK, _device, resolve_weights

    check_plot_path(args.plot)
    motion = args.data == "motion"
    name = args.net or (DEMO_NETWORK if motion else _eval_network(args))
    if name is None:
        raise InputError(f"--data {args.data}: give --net (no schedule names the network here)")
    spec = get_network(name)
    if motion:
        weights = resolve_weights(spec.name, args.weights)
        _device(args.device)
        data = motion_clips()
    else:
        weights, data = _data_setup(args, spec.name)
    net = prepare_network(spec, weights, args.device)
    bar = None
    if not args.quiet:
        from tqdm import tqdm
        bar = tqdm(total=data.frames, desc="layers", unit="frame", dynamic_ncols=True)
    try:
        stats = layer_stats(net, data, None if bar is None else bar.update)
    finally:
        if bar is not None:
            bar.close()
    rows = layer_table(net, stats)
    if args.json:
        print(json.dumps({"data": data.description, "network": spec.name, "rows": rows},
                         indent=2))
    else:
        print(format_layer_table(rows, f"{data.description}; network {spec.name}"))
    if args.plot:
        plot_changes(args.plot, stats)
        print(f"wrote {args.plot}")
    return 0


def cmd_simulate(args) -> int:
    import json

    from cwdsl.sim.capacity import run_capacity, sustainable_streams
    from cwdsl.sim.devices import load_device, schedule_costs
    from cwdsl.ir.graph import load
    from cwdsl.ir.plan import Planner
    from cwdsl.sim.profile import parse_size
    from cwdsl.sim.simulate import format_table, plot_timeline, simulate
    from cwdsl.ir.trace import fire_rate_atoms, trace_atoms

    check_plot_path(args.plot)
    device = load_device(args.device)
    size = parse_size(args.size) if args.size else None
    rate = 0.5 if args.fire_rate is None else args.fire_rate
    if args.streams is not None and args.streams != "auto":
        try:
            streams = int(args.streams)
            if streams < 1:
                raise ValueError
        except ValueError:
            raise InputError(f"--streams takes a whole number >= 1 or 'auto', got "
                             f"{args.streams!r}") from None
    if args.fps <= 0 or args.seconds <= 0:
        raise InputError("--fps and --seconds must be positive")
    sims, records, note = [], [], ""
    for path in args.schedules:
        program = load(path, args.net)
        _print_warnings(program)
        planner = Planner(program)
        costs = schedule_costs(program, device, size, args.dtype)

        def atoms_for(stream: int, frames: int, planner=planner):
            if not planner.atoms:
                return None
            if args.trace:
                trace = trace_atoms(args.trace, planner.atoms)
                return [trace[(t + stream * 7) % len(trace)] for t in range(frames)]
            return fire_rate_atoms(planner.atoms, frames, rate, args.seed + stream)

        if planner.atoms:
            note = (f"data-driven clocks replayed from {args.trace} (cycled)" if args.trace
                    else f"data-driven clocks fire at rate {rate} (seed {args.seed})")
        sim = simulate(planner, costs, args.frames, atoms_for(0, args.frames),
                       timeline=48 if args.plot else 0)
        sims.append(sim)
        record = sim.summary() | {"device": costs.device, "source": costs.source,
                                  "network": costs.network, "input": list(costs.input_hw),
                                  "dtype": costs.dtype, "oracle_ms": sim.oracle_ms}
        if args.streams is not None:
            if args.streams == "auto":
                n, cap = sustainable_streams(planner, costs, args.fps, args.seconds, atoms_for)
                record["sustainable_streams"] = n
            else:
                cap = run_capacity(planner, costs, streams, args.fps, args.seconds, atoms_for)
            if cap is not None:
                record["capacity"] = {k: getattr(cap, k) for k in (
                    "streams", "fps", "arrived", "processed", "dropped", "late", "utilization",
                    "latency_ms_p50", "latency_ms_p99", "latency_ms_max")} | {
                    "sustained": cap.sustained}
        records.append(record)
    if args.json:
        print(json.dumps(records, indent=2))
    else:
        c = sims[0].costs
        header = (f"device {c.device} ({c.source}), {c.network} {c.input_hw[0]}x{c.input_hw[1]} "
                  f"{c.dtype}; {args.frames} frames; frame oracle {sims[0].oracle_ms:.2f} ms")
        print(format_table(sims, header))
        if note:
            print(note)
        for record in records:
            if "capacity" in record:
                cap = record["capacity"]
                head = (f"sustains {record['sustainable_streams']} streams"
                        if "sustainable_streams" in record else f"{cap['streams']} streams")
                print(f"{record['schedule']}: {head} at {cap['fps']:g} fps: utilization "
                      f"{100 * cap['utilization']:.0f}%, latency p50 {cap['latency_ms_p50']:.1f} ms "
                      f"p99 {cap['latency_ms_p99']:.1f} ms, dropped {cap['dropped']}/"
                      f"{cap['arrived']}, late {cap['late']}")
            elif "sustainable_streams" in record:
                print(f"{record['schedule']}: sustains no stream at {args.fps:g} fps")
    if args.plot:
        plot_timeline(sims, args.plot)
        print(f"wrote {args.plot}")
    return 0


COMMANDS = {"check": cmd_check, "explain": cmd_explain, "graph": cmd_graph, "run": cmd_run,
            "train": cmd_train, "profile": cmd_profile, "simulate": cmd_simulate,
            "eval": cmd_eval, "sweep": cmd_sweep,
            "layers": cmd_layers}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        _load_plugins(args.plugin)
        return COMMANDS[args.command](args)
    except CwdslError as e:
        if args.debug:
            raise
        print(e, file=sys.stderr)
        return EXIT_USER_ERROR
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
