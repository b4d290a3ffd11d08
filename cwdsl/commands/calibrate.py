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
    from cwdsl.devices.calibrate import base_spec, calibrate, load_profiles
    from cwdsl.devices.roofline import spec_to_dict

    check_output(args.out, "device spec")
    profiles = load_profiles(args.profiles)
    result = calibrate(profiles, base_spec(args.base, profiles))
    spec = result.spec
    rows = [(kind, eff) for kind, eff in spec.efficiency.items()]
    footer = (f"kernel_us {spec.kernel_us:.1f}, sync_us {spec.sync_us:.1f}, frame_us "
              f"{spec.frame_us:.1f}, host_link_gbs {spec.host_link_gbs}, launch_us "
              f"{spec.launch_us} (kept); relative RMS error over {result.parts} parts "
              f"{100 * result.rms:.0f}%")
    print(render_table(f"efficiency (fraction of roofline speed) fitted for {spec.name}",
                       [Column("kind", 26, align="<"), Column("efficiency", 11, ".3f")],
                       rows, footer))
    for fit in result.fits:
        parts = (*fit.segments, fit.full, fit.overhead, fit.oracle)
        print(render_table(f"{fit.label} ({fit.path})",
                           [Column("part", 22, align="<"), Column("measured ms", 12, ".3f"),
                            Column("model ms", 10, ".3f"),
                            Column("error", 8, "+.0f", suffix="%")],
                           [(e.name, e.measured_ms, e.model_ms, 100 * e.error) for e in parts]))
    write_json(args.out, spec_to_dict(spec))
    print(f"wrote {args.out} (use it with cwdsl simulate --device {args.out})")
    return 0
