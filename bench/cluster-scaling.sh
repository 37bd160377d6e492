#!/usr/bin/env bash
# engram-cluster on this machine: seconds per meta-iteration at --batch (default 90) with 1 rank × 1 thread,
# 1 rank × 2 threads and 2 ranks × 1 thread, and the time of one gradient exchange (plain MPI_Allreduce of
# the controller's floats, and the reproducible sum meta-train uses). One JSON line each.
#   bench/cluster-scaling.sh            # ENGRAM_BENCH_ITERATIONS (default 6; the first is dropped), ENGRAM_BENCH_BATCH
set -euo pipefail
cd "$(dirname "$0")/.."
command -v mpirun >/dev/null || { echo "cluster-scaling: needs Open MPI (apt-get install libopenmpi-dev openmpi-bin)" >&2; exit 1; }
swift build -c release --package-path Cluster >/dev/null
BIN=Cluster/.build/release/engram-cluster
ITER=${ENGRAM_BENCH_ITERATIONS:-6}
BATCH=${ENGRAM_BENCH_BATCH:-90}
MPI=(--oversubscribe --bind-to none)
[ "$(id -u)" = 0 ] && MPI+=(--allow-run-as-root)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

for shape in 1x1 1x2 2x1; do
  ranks=${shape%x*}; threads=${shape#*x}
  mpirun "${MPI[@]}" -np "$ranks" "$BIN" meta-train --task scorbot --batch "$BATCH" --iterations "$ITER" \
      --threads "$threads" --out "$TMP/$shape.safetensors" --log "$TMP/$shape.csv" >/dev/null
  # Median of iteration_s (last column), forward_s and backward_s over the iterations after the first.
  python3 - "$TMP/$shape.csv" "$ranks" "$threads" "$BATCH" <<'PY'
import csv, json, statistics, sys
rows = list(csv.DictReader(open(sys.argv[1])))[1:]
m = lambda k: round(statistics.median(float(r[k]) for r in rows), 4)
print(json.dumps({"bench": "cluster_meta_iteration", "ranks": int(sys.argv[2]), "threads": int(sys.argv[3]),
                  "batch": int(sys.argv[4]), "iterations": len(rows), "iteration_s": m("iteration_s"),
                  "forward_s": m("forward_s"), "backward_s": m("backward_s")}))
PY
done
for ranks in 1 2; do mpirun "${MPI[@]}" -np "$ranks" "$BIN" bench-allreduce --batch "$BATCH"; done
