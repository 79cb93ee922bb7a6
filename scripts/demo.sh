#!/usr/bin/env bash
# The main job, offline: `mlrc demo` runs all three phases on the bundled example — ideas from
# examples/papers/sentiment-analysis.md, then implementation and execution on the digits task —
# with a SCRIPTED model (examples/demo/script.json). The replies are canned; the code they write
# really runs in the sandbox and the metric is really measured by the task's evaluator.
# Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build/default}
here=$(cd "$(dirname "$0")/.." && pwd)
export MLRC_HOME=${MLRC_HOME:-$here/build/demo-home}
export MLRC_EXAMPLES="$here/examples"
"$build/src/mlrc" demo
run=$("$build/src/mlrc" runs --json | head -n 1 | /usr/bin/python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["folder"])')
echo
echo "== result.json =="
cat "$run/result.json"
echo
echo "== report.md (first lines; the full report and report.html are in $run) =="
head -n 40 "$run/report.md"
