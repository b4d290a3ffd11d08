#!/usr/bin/env bash
# The executor's fast path on a GPU (issue 9, part 1), in one short run (a few minutes on an
# H100/H200): the CUDA tests (graphs vs eager over clips, compiled graphs, event timings,
# the streams) and bench_gpu_forward at the H200 measurements' sizes. Results go to $OUT
# (default gpu-fastpath/), one .txt and one .json per benchmark.
#   bash benchmarks/gpu_fastpath_check.sh
set -u
OUT=${OUT:-gpu-fastpath}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/card.txt"
python -m pytest -q -rs tests/test_fastpath.py tests/test_executor.py 2>&1 | tail -30 \
    | tee "$OUT/tests.txt"
for case in "bfloat16 256x256" "float16 500x500" "float32 500x500"; do
    set -- $case
    python benchmarks/bench_gpu_forward.py --device cuda --dtype "$1" --size "$2" \
        --frames 40 --rounds 3 --out "$OUT/gpu-forward-$2-$1.json" 2>&1 \
        | tee "$OUT/gpu-forward-$2-$1.txt"
done
