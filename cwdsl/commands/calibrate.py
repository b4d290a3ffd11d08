"""``cwdsl calibrate``: fit a roofline device spec's per-kind efficiencies to profiles."""
from __future__ import annotations

from cwdsl.commands.options import add_command


def register(sub) -> None:
    p = add_command(
        sub, "calibrate", handle,
        "fit a roofline device spec to measured profiles (cwdsl profile) of one device",
        "cwdsl calibrate profile-500-fp32.json profile-256-bf16.json --base h200 -o h200.json")
    p.add_argument("profiles", nargs="+", metavar="PROFILE", help="profiles of one device")
    p.add_argument("--base", metavar="NAME|SPEC.json",
                   help="spec giving peaks and bandwidth (default: guessed from the "
                        "profiles' device name, e.g. NVIDIA H200 -> h200)")
    p.add_argument("-o", "--out", required=True, metavar="OUT.json",
                   help="the calibrated device spec to write (for simulate --device)")


def handle(args) -> int:
    from cwdsl.core.atomic import write_json
    from cwdsl.core.outputs import check_output
    from cwdsl.core.tables import Column, render_table
    from cwdsl.fitting.calibrate import (base_spec, calibrate, leave_one_out, load_profiles,
                                         profile_set_left_out)
    from cwdsl.devices.spec import spec_to_dict

    check_output(args.out, "device spec")
    profiles = load_profiles(args.profiles)
    base = base_spec(args.base, profiles)
    result = calibrate(profiles, base)
    spec = result.spec
    rows = [(kind, eff) for kind, eff in spec.efficiency.items()]
    footer = (f"kernel_us {spec.kernel_us:.1f}, sync_us {spec.sync_us:.1f}, frame_us "
              f"{spec.frame_us:.1f}, host_link_gbs {spec.host_link_gbs}, launch_us "
              f"{spec.launch_us} (kept); relative RMS error over {result.parts} parts "
              f"{100 * result.rms:.0f}%")
    print(render_table(f"efficiency (fraction of roofline speed) fitted for {spec.name}",
                       [Column("kind", 26, align="<"), Column("efficiency", 11, ".3f")],
                       rows, footer))
    held_out = leave_one_out(profiles, base) if len(profiles) > 1 else ()
    predicted = profile_set_left_out(profiles)
    if not held_out:
        print("one profile: no leave-one-out error (give two or more to see how the fit "
              "does on a profile it was not fitted on)")
    for i, fit in enumerate(result.fits):
        parts = (*fit.segments, fit.full, fit.overhead, fit.oracle)
        columns = [Column("part", 22, align="<"), Column("measured ms", 12, ".3f"),
                   Column("fitted ms", 10, ".3f"), Column("error", 7, "+.0f", suffix="%")]
        rows = [(e.name, e.measured_ms, e.model_ms, 100 * e.error) for e in parts]
        if held_out:
            out = held_out[i]
            columns += [Column("left out ms", 12, ".3f"), Column("error", 7, "+.0f", suffix="%")]
            rows = [(*row, e.model_ms, 100 * e.error) for row, e in zip(
                rows, (*out.segments, out.full, out.overhead, out.oracle))]
        if predicted:
            out = predicted[i]
            columns += [Column("set left out", 13, ".3f"), Column("error", 7, "+.0f", suffix="%")]
            rows = [(*row, e.model_ms, 100 * e.error) for row, e in zip(
                rows, (*out.segments, out.full, out.overhead, out.oracle))]
        print(render_table(f"{fit.label} ({fit.path})", columns, rows))
    if held_out:
        worst = max((e for f in held_out for e in (*f.segments, f.full, f.oracle)),
                    key=lambda e: abs(e.error))
        print(f"fitted: the spec fitted on every profile; left out: each profile priced by the "
              f"spec fitted on the others (out of sample; worst {100 * worst.error:+.0f}%, "
              f"{worst.name})")
    if predicted:
        worst = max((e for f in predicted for e in (*f.segments, f.full, f.oracle)),
                    key=lambda e: abs(e.error))
        print(f"set left out: each profile predicted from the others as simulate --device "
              f"A.json,B.json does (out of sample; worst {100 * worst.error:+.0f}%, "
              f"{worst.name})")
    write_json(args.out, spec_to_dict(spec))
    print(f"wrote {args.out} (use it with cwdsl simulate --device {args.out})")
    return 0
