#!/usr/bin/env bash
# Whole-arm figures through the serial stack against the in-process simulated arm (issue: whole-arm teaching).
# Writes the evaluation's demonstrations as CSV files, then runs each with `engram run --sim` and with
# `engram run --port` against `engram sim-serial`, and prints both mean joint RMS errors (after the update).
# Usage: bench/whole-arm-port.sh [robot] [demonstrations] [pcm]     e.g. bench/whole-arm-port.sh so101 20 paper
set -euo pipefail
cd "$(dirname "$0")/.."
robot=${1:-so101}; count=${2:-20}; pcm=${3:-paper}
swift build -c release --product engram >/dev/null
E=.build/release/engram
dir=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$dir"' EXIT
$E evaluate --whole-arm --robot "$robot" --tasks "$count" --write-demos "$dir" >/dev/null
$E sim-serial --robot "Robots/$robot" > "$dir/port.txt" 2>/dev/null &
server=$!
for _ in $(seq 50); do grep -q '^port:' "$dir/port.txt" 2>/dev/null && break; sleep 0.1; done
port=$(sed -n 's/^port: //p' "$dir/port.txt" | head -n 1)
sim=0; ser=0; n=0
for f in "$dir"/demo-*.csv; do
  rows=$(grep -vc '^#' "$f"); rows=$((rows - 1))
  a=$($E run --robot "Robots/$robot" --sim --target "$f" --pcm "$pcm" --json | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["tracking"]["joint_rms_deg"], d["timing"]["ticks"])')
  # A real-time run on a loaded machine can stop on missed replies (the watchdog): say so and go on.
  if ! b=$($E run --robot "Robots/$robot" --port "$port" --target "$f" --pcm "$pcm" --json 2>"$dir/err.txt" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["tracking"]["joint_rms_deg"], d["timing"]["ticks"])'); then
    echo "$(basename "$f"): the --port run stopped: $(tail -n 1 "$dir/err.txt")"; continue
  fi
  echo "$(basename "$f") rows $rows  --sim ${a% *}° (${a#* } ticks)  --port ${b% *}° (${b#* } ticks)"
  sim=$(python3 -c "print($sim + ${a% *})"); ser=$(python3 -c "print($ser + ${b% *})"); n=$((n + 1))
done
python3 -c "s=$sim/$n; p=$ser/$n; print(f'mean joint RMS after the update over {$n} demonstrations: --sim {s:.2f}°, --port {p:.2f}° ({100*(p-s)/s:+.1f} %)')"
