#!/usr/bin/env bash
# The main job, offline: the mlrc command talks to a scripted model served on loopback by
# mlrc-fake-llm, which speaks the OpenAI and Anthropic wire formats. Everything shown is the
# real client path (HTTP, SSE streaming, tool calls, accounting, record/replay); only the model's
# words are scripted. Usage: scripts/demo.sh BUILD_DIR
set -euo pipefail
build=${1:-build/default}
here=$(cd "$(dirname "$0")/.." && pwd)
mlrc="$build/src/mlrc"
fake="$build/tests/mlrc-fake-llm"
work=$(mktemp -d)
"$fake" --port 0 --port-file "$work/port" --script "$here/examples/chat-demo/script.json" >"$work/fake.log" 2>&1 &
fake_pid=$!
trap 'kill $fake_pid 2>/dev/null; wait $fake_pid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.05; done
base="http://127.0.0.1:$(cat "$work/port")"
unset OPENAI_API_KEY ANTHROPIC_API_KEY HTTPS_PROXY HTTP_PROXY https_proxy http_proxy

echo "== mlrcopilot demo (SCRIPTED model on $base — offline, no real LLM) =="
echo
echo "\$ mlrc models check openai-compatible:$base/v1#gpt-test"
"$mlrc" models check "openai-compatible:$base/v1#gpt-test"
echo
echo "\$ mlrc chat --stream --model openai-compatible:…#gpt-test \"What is a weak baseline?\""
"$mlrc" chat --stream --model "openai-compatible:$base/v1#gpt-test" --system "You are a research assistant." \
  "What is a weak baseline in an ML experiment?"
echo
echo "\$ mlrc chat --json --model anthropic-compatible:…#claude-test \"Propose one experiment\""
"$mlrc" chat --json --model "anthropic-compatible:$base#claude-test" "Propose one experiment to beat a logistic-regression baseline."
echo
echo "\$ mlrc chat --cassette demo.jsonl … (record, then replay with the server stopped)"
"$mlrc" chat --cassette "$work/demo.jsonl" --cassette-mode record --model "openai-compatible:$base/v1#gpt-test" "Summarise the plan."
kill $fake_pid; wait $fake_pid 2>/dev/null || true
"$mlrc" chat --cassette "$work/demo.jsonl" --cassette-mode replay --model "openai-compatible:$base/v1#gpt-test" "Summarise the plan."
echo
echo "demo finished: all calls went through the real HTTP/SSE client against the scripted server."
