#!/usr/bin/env bash
# mlrc task and mlrc sandbox as a user runs them, on a copy of the example tasks.
# Usage: test_cli_task.sh MLRC SOURCE_DIR
set -u
MLRC=$1
SRC=$2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MLRC_HOME="$work/home"
cp -r "$SRC/examples/tasks" "$work/tasks"
source "$(dirname "$0")/lib.sh"

expect 0 "task check" -- "$MLRC" task check "$work/tasks/digits-mlab"
contains "$work/out" "mlagentbench format" "check output"
expect 0 "task check json" -- "$MLRC" task check --json "$work/tasks/diabetes-native"
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["direction"]=="lower" and d["metric"]=="rmse", d' "$work/out"; then ok; else bad "check json"; fi
expect 0 "baseline" -- "$MLRC" task baseline --json "$work/tasks/digits-mlab"
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert abs(d["score"]-0.82)<0.005, d' "$work/out"; then ok; else bad "baseline json: $(cat "$work/out")"; fi
expect 0 "baseline remembered" -- "$MLRC" task baseline "$work/tasks/digits-mlab"
contains "$work/out" "baseline accuracy = 0.82" "baseline text"

cp -r "$work/tasks/digits-mlab/env" "$work/ws"
sed -i 's/from sklearn.tree import DecisionTreeClassifier/from sklearn.svm import SVC/; s/DecisionTreeClassifier(random_state=SEED)/SVC()/' "$work/ws/train.py"
expect 0 "eval --run improved" -- "$MLRC" task eval --run "$work/tasks/digits-mlab" "$work/ws"
contains "$work/out" "meets the success rule" "improvement judged by the rule"
echo 'import sys; sys.exit("broken on purpose")' >"$work/ws/train.py"
expect 1 "eval --run broken" -- "$MLRC" task eval --run "$work/tasks/digits-mlab" "$work/ws"
contains "$work/err" "broken on purpose" "experiment error shown"

rm "$work/tasks/digits-mlab/scripts/metric.json"
expect 3 "no direction" -- "$MLRC" task check "$work/tasks/digits-mlab"
contains "$work/err" "higher or lower" "direction never guessed"
expect 0 "direction option" -- "$MLRC" task check --direction higher "$work/tasks/digits-mlab"
echo "name = 'x'" >"$work/tasks/breast-cancer-native/task.toml"
expect 3 "bad manifest" -- "$MLRC" task check "$work/tasks/breast-cancer-native"
contains "$work/err" "task.toml" "bad manifest names the file"
expect 2 "task usage" -- "$MLRC" task check
expect 0 "task help" -- "$MLRC" task --help

expect 0 "sandbox ok" -- "$MLRC" sandbox --cwd "$work" -- /bin/sh -c 'echo sandboxed'
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["kind"]=="exited" and d["stdout"]=="sandboxed\n" and "env_scrub" in d["protections"], d' "$work/out"; then ok; else bad "sandbox json: $(cat "$work/out")"; fi
expect 124 "sandbox timeout" -- "$MLRC" sandbox --wall 0.5 --cwd "$work" -- /bin/sleep 30
expect 3 "sandbox exit code" -- "$MLRC" sandbox --cwd "$work" -- /bin/sh -c 'exit 3'
expect 126 "sandbox missing program" -- "$MLRC" sandbox --cwd "$work" -- no-such-program-qq
expect 2 "sandbox no command" -- "$MLRC" sandbox --wall 1
expect 0 "sandbox help" -- "$MLRC" sandbox --help

finish
