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
    out_of_sample = [  # (column, each profile's fit, what it is), where there is one
        (label, fits, what) for label, fits, what in (
            ("left out ms", leave_one_out(profiles, base) if len(profiles) > 1 else (),
             "each profile priced by the spec fitted on the others"),
            ("set left out", profile_set_left_out(profiles),
             "each profile predicted from the others as simulate --device A.json,B.json does"))
        if fits]
    if not out_of_sample:
        print("one profile: no leave-one-out error (give two or more to see how the fit "
              "does on a profile it was not fitted on)")
    for i, fit in enumerate(result.fits):
        columns = [Column("part", 22, align="<"), Column("measured ms", 12, ".3f"),
                   Column("fitted ms", 10, ".3f"), Column("error", 7, "+.0f", suffix="%")]
        rows = [(e.name, e.measured_ms, e.model_ms, 100 * e.error) for e in _parts(fit)]
        for label, fits, _ in out_of_sample:
            columns += [Column(label, 13, ".3f"), Column("error", 7, "+.0f", suffix="%")]
            rows = [(*row, e.model_ms, 100 * e.error) for row, e in zip(rows, _parts(fits[i]))]
        print(render_table(f"{fit.label} ({fit.path})", columns, rows))
    if out_of_sample:
        print("fitted: the spec fitted on every profile")
    for label, fits, what in out_of_sample:
        worst = max((e for f in fits for e in (*f.segments, f.full, f.oracle)),
                    key=lambda e: abs(e.error))
        print(f"{label.removesuffix(' ms')}: {what} (out of sample; worst "
              f"{100 * worst.error:+.0f}%, {worst.name})")
    write_json(args.out, spec_to_dict(spec))
    print(f"wrote {args.out} (use it with cwdsl simulate --device {args.out})")
    return 0


def _parts(fit) -> tuple:
    """A profile fit's compared parts, in the table's order."""
    return (*fit.segments, fit.full, fit.overhead, fit.oracle)

