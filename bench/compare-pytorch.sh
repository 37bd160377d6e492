#!/usr/bin/env bash
# Engram vs PyTorch: seconds per meta-iteration (batch 90, ideal weights, 2 threads), forward and backward.
#
# Builds engram-bench in release, has it dump one ideal evaluation (weights, tasks, losses, gradient), checks
# the PyTorch port against it, then runs the two benches alternately ENGRAM_COMPARE_REPEATS times (default 3;
# each run: one warm-up iteration, one timed) and prints the medians of both and their ratio as JSON lines.
#
# Environment:
#   ENGRAM_TORCH_PYTHON     python with torch + numpy (default /work/torch/venv/bin/python)
#   ENGRAM_BENCH_CHECKPOINT controller weights (default Robots/scorbot-er7/controller.safetensors)
#   ENGRAM_BENCH_THREADS    threads for both (default 2)
#   ENGRAM_COMPARE_REPEATS  alternating runs of each bench (default 3)
#   ENGRAM_COMPARE_COMPILE  1: also time the torch.compile variant once (slow to compile)
#   OMP_WAIT_POLICY         PyTorch's OpenMP threads (default PASSIVE here: on a machine whose cores are
#                           busy with other work, the default spin-waiting makes PyTorch 2 threads ~10x slower)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
py="${ENGRAM_TORCH_PYTHON:-/work/torch/venv/bin/python}"
if ! "$py" -c 'import torch, numpy' >/dev/null 2>&1; then
    echo "compare-pytorch.sh: '$py' cannot import torch and numpy; set ENGRAM_TORCH_PYTHON to a python that has both" >&2
    exit 1
fi
checkpoint="${ENGRAM_BENCH_CHECKPOINT:-$root/Robots/scorbot-er7/controller.safetensors}"
if [ ! -f "$checkpoint" ]; then
    echo "compare-pytorch.sh: no checkpoint at $checkpoint; set ENGRAM_BENCH_CHECKPOINT to a controller.safetensors" >&2
    exit 1
fi
threads="${ENGRAM_BENCH_THREADS:-2}"
repeats="${ENGRAM_COMPARE_REPEATS:-3}"
export OMP_WAIT_POLICY="${OMP_WAIT_POLICY:-PASSIVE}"

swift build -c release --product engram-bench >&2
bin="$(swift build -c release --show-bin-path)/engram-bench"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
reference="$work/reference.safetensors"

engram() {  # one Engram run (warm-up + 1 timed iteration), JSON line on stdout
    ENGRAM_BENCH_CHECKPOINT="$checkpoint" ENGRAM_BENCH_THREADS="$threads" ENGRAM_BENCH_REPEATS=1 \
        ENGRAM_BENCH_META_MODES=ideal "$@" "$bin" metalearning
}
torch_run() {
    "$py" "$root/bench/pytorch/meta_iteration.py" --reference "$reference" --threads "$threads" "$@"
}

engram env ENGRAM_BENCH_DUMP="$reference" > "$work/dump.jsonl"
[ -f "$reference" ] || { echo "compare-pytorch.sh: engram-bench wrote no reference" >&2; exit 1; }
torch_run --check --repeats 0 | tee "$work/check.jsonl"

: > "$work/engram.jsonl"; : > "$work/torch.jsonl"
for i in $(seq "$repeats"); do
    engram env | tee -a "$work/engram.jsonl"
    torch_run --repeats 1 | tee -a "$work/torch.jsonl"
done
if [ "${ENGRAM_COMPARE_COMPILE:-0}" = 1 ]; then
    torch_run --check --repeats 1 --compile | tee "$work/compiled.jsonl" \
        || echo '{"bench": "pytorch_meta_iteration_batch90_ideal_compiled", "error": "torch.compile run failed"}'
fi
touch "$work/compiled.jsonl"

"$py" - "$work/engram.jsonl" "$work/torch.jsonl" "$work/compiled.jsonl" <<'PY'
import json, statistics, sys
def load(path):
    return [json.loads(l) for l in open(path) if l.startswith("{")]
e, t = load(sys.argv[1]), load(sys.argv[2])
keys = ["median_us", "forward_us", "backward_us", "cpu_us", "forward_cpu_us", "backward_cpu_us"]
def med(rows, k): return statistics.median(r[k] for r in rows)
em = {"bench": "engram_meta_iteration_batch90_ideal_median", "runs": len(e), "threads": e[0]["threads"]}
tm = {"bench": "pytorch_meta_iteration_batch90_ideal_median", "runs": len(t), "threads": t[0]["threads"],
      "omp_wait_policy": t[0]["omp_wait_policy"]}
for k in keys:
    em[k] = round(med(e, k)); tm[k] = round(med(t, k))
print(json.dumps(em)); print(json.dumps(tm))
ratio = lambda k: round(tm[k] / em[k], 2)
print(json.dumps({"bench": "engram_vs_pytorch_meta_iteration",
                  "speedup_forward": ratio("forward_us"), "speedup_backward": ratio("backward_us"),
                  "speedup_total": ratio("median_us"),
                  "speedup_forward_cpu": ratio("forward_cpu_us"), "speedup_backward_cpu": ratio("backward_cpu_us"),
                  "speedup_total_cpu": ratio("cpu_us"),
                  "note": "PyTorch / Engram medians of alternating runs; >1 means Engram is faster"}))
c = [r for r in load(sys.argv[3]) if r.get("bench") == "pytorch_meta_iteration_batch90_ideal_compiled" and "forward_us" in r]
if c:
    c = c[-1]
    print(json.dumps({"bench": "engram_vs_pytorch_compiled_meta_iteration", "runs": 1,
                      "speedup_forward": round(c["forward_us"] / em["forward_us"], 2),
                      "speedup_backward": round(c["backward_us"] / em["backward_us"], 2),
                      "speedup_total": round(c["median_us"] / em["median_us"], 2),
                      "speedup_total_cpu": round(c["cpu_us"] / em["cpu_us"], 2),
                      "note": "one torch.compile run against the Engram median"}))
PY
