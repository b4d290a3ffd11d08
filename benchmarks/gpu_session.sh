#!/usr/bin/env bash
# Everything issue 9 still needs a GPU for, in one prepared run (about 8 minutes on an
# H100/H200), most important first, so a cut-off run still brought back the rest:
#   1. the CUDA tests (graphs vs eager over clips, compiled graphs, event timings, streams);
#   2. bench_gpu_forward (plain forwards vs every paper schedule, with and without graphs)
#      at the targets' sizes: 500x500 and 1024x1024, float16 and bfloat16;
#   3. version-3 profiles (host issue times, read-back, lanes' overlap) at 500x500 float16,
#      eager and with CUDA graphs, then bench_fidelity with each (simulated vs measured);
#   4. cwdsl calibrate on the new profiles (a calibrated spec of this card).
# Results go to $OUT (default gpu-session/): a .txt per step, .json where a step writes one.
#   bash benchmarks/gpu_session.sh
set -u
OUT=${OUT:-gpu-session}
mkdir -p "$OUT"
START=$SECONDS
left() { [ $((SECONDS - START)) -lt "${BUDGET_S:-540}" ]; }  # stop starting new steps late
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/card.txt"
python -m pytest -q -rs tests/test_fastpath.py tests/test_executor.py tests/test_warp.py \
    2>&1 | tail -30 | tee "$OUT/tests.txt"
for case in "float16 500x500" "bfloat16 500x500" "float16 1024x1024" "bfloat16 1024x1024"; do
    set -- $case
    left || break
    python benchmarks/bench_gpu_forward.py --device cuda --dtype "$1" --size "$2" \
        --frames 40 --rounds 3 --out "$OUT/gpu-forward-$2-$1.json" 2>&1 \
        | tee "$OUT/gpu-forward-$2-$1.txt"
done
for graphs in "" "--cuda-graphs"; do
    left || break
    name=profile-fcn8s-500x500-float16${graphs:+-graphs}
    cwdsl profile --net fcn8s --size 500x500 --dtype float16 --device cuda $graphs --quiet \
        -o "$OUT/$name.json" 2>&1 | tee "$OUT/$name.txt"
    python benchmarks/bench_fidelity.py --device cuda --dtype float16 --size 500x500 \
        --nets fcn8s $graphs 2>&1 | tee "$OUT/fidelity-500x500-float16${graphs:+-graphs}.txt"
done
if ls "$OUT"/profile-*.json >/dev/null 2>&1; then
    cwdsl calibrate "$OUT"/profile-*.json -o "$OUT/calibrated.json" 2>&1 \
        | tee "$OUT/calibrate.txt"
fi
echo "done in $((SECONDS - START)) s" | tee "$OUT/done.txt"
