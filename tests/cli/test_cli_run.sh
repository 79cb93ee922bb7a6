#!/usr/bin/env bash
# mlrc demo / run / resume / runs / report end to end, with the scripted demo session: the code
# really runs, the evaluator really scores it. Kill -9 at several points, then resume: the end
# state must equal an uninterrupted run's.
# Usage: test_cli_run.sh MLRC SOURCE_DIR
set -u
MLRC=$1
SRC=$2
PY=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export MLRC_EXAMPLES="$SRC/examples"
source "$(dirname "$0")/lib.sh"
json_field() { $PY -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
# steps recorded in a run: "index:tool" lines
steps_of() { $PY -c 'import sqlite3,sys,json; db=sqlite3.connect(sys.argv[1]); [print(str(i)+":"+json.loads(s)["tool"]) for i,s in db.execute("select idx, step from steps order by idx")]' "$1/run.db"; }

# 1. An uninterrupted demo run.
export MLRC_HOME="$work/home"
"$MLRC" demo --json >"$work/out" 2>"$work/err"
rc=$?
check "demo exits 0 (success)" "[[ $rc -eq 0 ]]"
run=$(json_field "$work/out" folder)
check "demo success" "[[ \$(json_field '$work/out' success) == True ]]"
check "demo improved past the rule" "$PY -c 'import json; d=json.load(open(\"$work/out\")); assert d[\"final\"] >= d[\"baseline\"]*1.10, d'"
for f in result.json report.md report.html chart.svg run.db; do check "run has $f" "[[ -s '$run/$f' ]]"; done
check "report has the chart inline" "grep -q '<svg' '$run/report.html'"
check "report shows the code diff" "grep -q '+    return SVC()' '$run/report.md'"
check "report shows the failed attempt" "grep -q '| 4 | execute_script | \\*\\*error\\*\\*' '$run/report.md'"
check "progress shown" "grep -q 'step 6: execute_script' '$work/err'"
steps_of "$run" >"$work/steps.ref"
check "8 steps" "[[ \$(wc -l <'$work/steps.ref') -eq 8 ]]"
cp "$run/workspace/train.py" "$work/train.ref"
final_ref=$(json_field "$work/out" final)
"$MLRC" runs --json >"$work/runs"
check "runs --json lists the run as finished" "grep -q '\"status\":\"finished\"' '$work/runs'"
check "report rewrites" "'$MLRC' report \$(basename '$run') >/dev/null"

# 2. Killed at several points (during ideas, after an LLM call before its tool ran, after steps).
for point in call:3 call:12 step:4 step:6; do
  export MLRC_HOME="$work/home-$point"
  MLRC_TEST_KILL_AT=$point "$MLRC" demo --json >"$work/out" 2>"$work/err"
  rc=$?
  check "$point: killed (137)" "[[ $rc -eq 137 ]]"
  id=$("$MLRC" runs --json | head -n 1 | $PY -c 'import json,sys; print(json.loads(sys.stdin.readline())["run_id"])')
  check "$point: status running before resume" "'$MLRC' runs | grep -q running"
  "$MLRC" resume "$id" --json >"$work/out" 2>"$work/err"
  rc=$?
  check "$point: resume succeeds ($(tail -c 300 "$work/err"))" "[[ $rc -eq 0 ]]"
  folder="$MLRC_HOME/runs/$id"
  steps_of "$folder" >"$work/steps.got"
  check "$point: same steps, none lost or doubled" "diff -q '$work/steps.ref' '$work/steps.got' >/dev/null"
  check "$point: same final workspace" "diff -q '$work/train.ref' '$folder/workspace/train.py' >/dev/null"
  check "$point: same final score" "[[ \$(json_field '$work/out' final) == '$final_ref' ]]"
done

# 3. A budget that runs out stops cleanly with a partial report.
export MLRC_HOME="$work/home-budget"
"$MLRC" run --task "$SRC/examples/tasks/digits-mlab" --paper "$SRC/examples/papers/sentiment-analysis.md" \
  --model "scripted:$SRC/examples/demo/script.json" --ideas 2 --budget-tokens 4000 --json >"$work/out" 2>"$work/err"
rc=$?
check "budget: exit 5" "[[ $rc -eq 5 ]]"
check "budget: status" "[[ \$(json_field '$work/out' status) == budget_exceeded ]]"
check "budget: partial report" "[[ -s \"\$(json_field '$work/out' folder)/report.md\" ]]"

# 4. A paper looked up by id in a local corpus (phase 1 only).
export MLRC_HOME="$work/home-ideas"
"$MLRC" ideas --paper-id arxiv:2504.02436 --corpus "$SRC/examples/corpus/papers.jsonl" \
  --model "scripted:$SRC/examples/demo/script.json" --ideas 2 >"$work/out" 2>"$work/err"
check "ideas by paper id: exit 0 ($(tail -c 300 "$work/err"))" "[[ $? -eq 0 ]]"
check "ideas by paper id: the paper's title" "grep -q 'SkyReels-A2' '$work/out'"
check "ideas ranked" "grep -q '^1\. Replace the axis-aligned decision tree' '$work/out'"
"$MLRC" ideas --paper-id arxiv:0000.00000 --corpus "$SRC/examples/corpus/papers.jsonl" --model "scripted:$SRC/examples/demo/script.json" >/dev/null 2>"$work/err"
check "unknown paper id: exit 3 naming it" "[[ $? -eq 3 ]] && grep -q 'arxiv:0000.00000' '$work/err'"

# 5. Bad input.
"$MLRC" run --paper x.md --model scripted:x >/dev/null 2>&1
check "run without --task: usage" "[[ $? -eq 2 ]]"
"$MLRC" run --task "$SRC/examples/tasks/digits-mlab" --paper "$work/nope.md" --model "scripted:$SRC/examples/demo/script.json" >/dev/null 2>"$work/err"
check "missing paper: exit 3" "[[ $? -eq 3 ]]"
check "missing paper named" "grep -q 'nope.md' '$work/err'"
printf '' >"$work/empty.md"
"$MLRC" run --task "$SRC/examples/tasks/digits-mlab" --paper "$work/empty.md" --model "scripted:$SRC/examples/demo/script.json" >/dev/null 2>"$work/err"
check "empty paper: exit 3" "[[ $? -eq 3 ]]"
"$MLRC" resume no-such-run >/dev/null 2>"$work/err"
check "unknown run: exit 3 or 1" "[[ $? -ne 0 ]] && grep -q 'no-such-run' '$work/err'"

finish
