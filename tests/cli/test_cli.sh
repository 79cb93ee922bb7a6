#!/usr/bin/env bash
# The mlrc command as a user runs it, against mlrc-fake-llm on loopback.
# Usage: test_cli.sh MLRC FAKE_LLM
set -u
MLRC=$1
FAKE=$2
work=$(mktemp -d)
fake_pid=
cleanup() {
  [[ -n "$fake_pid" ]] && kill "$fake_pid" 2>/dev/null && wait "$fake_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/lib.sh"

KEY=sk-cli-SECRET-5555555555
cat >"$work/script.json" <<'JSON'
{"turns": [
  {"text": "Hello from the fake model."},
  {"text": "Streaming works fine.", "token_delay_ms": 2},
  {"text": "json mode", "usage": {"input": 21, "output": 3, "cached": 8}},
  {"text": "Anthropic says hi."},
  {"text": "", "tool_calls": [{"id": "call_1", "name": "execute", "arguments": "{\"script\":\"train.py\"}"}]},
  {"text": "recorded for the cassette"}
]}
JSON
"$FAKE" --port 0 --port-file "$work/port" --script "$work/script.json" --require-key "$KEY" >"$work/fake.log" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.05; done
port=$(cat "$work/port")
base="http://127.0.0.1:$port"
export OPENAI_API_KEY=$KEY ANTHROPIC_API_KEY=$KEY
unset HTTPS_PROXY HTTP_PROXY https_proxy http_proxy OPENAI_BASE_URL ANTHROPIC_BASE_URL MLRC_MODEL

expect 0 "plain chat" -- "$MLRC" chat --model "openai-compatible:$base/v1#gpt-test" "Say hello"
contains "$work/out" "Hello from the fake model." "plain chat output"

expect 0 "streamed chat" -- "$MLRC" chat --stream --model "openai-compatible:$base/v1#gpt-test" --system "be brief" "stream please"
contains "$work/out" "Streaming works fine." "streamed output"

expect 0 "json chat" -- "$MLRC" chat --json --model "openai-compatible:$base/v1#gpt-test" "json please"
if /usr/bin/python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["text"]=="json mode", d; assert d["usage"]["input_tokens"]==21 and d["usage"]["cached_input_tokens"]==8, d' "$work/out"; then ok; else bad "json output: $(cat "$work/out")"; fi

expect 0 "anthropic chat" -- "$MLRC" chat --model "anthropic-compatible:$base#claude-test" "hi"
contains "$work/out" "Anthropic says hi." "anthropic output"

expect 0 "tool call" -- "$MLRC" chat --model "openai-compatible:$base/v1#gpt-test" "use a tool"
contains "$work/out" "[tool call call_1 execute" "tool call printed"

expect 0 "record cassette" -- "$MLRC" chat --cassette "$work/c.jsonl" --cassette-mode record --model "openai-compatible:$base/v1#gpt-test" "remember me"
contains "$work/out" "recorded for the cassette" "recorded output"
lacks "$work/c.jsonl" "$KEY" "cassette holds no key"

expect 0 "models check" -- "$MLRC" models check "openai-compatible:$base/v1#gpt-test"
contains "$work/out" "ok:" "models check output"
expect 0 "models check anthropic" -- "$MLRC" models check "anthropic-compatible:$base#claude-test"

OPENAI_API_KEY=sk-wrong-WRONG-000000 expect 1 "wrong key" -- "$MLRC" models check "openai-compatible:$base/v1#gpt-test"
contains "$work/err" "401" "wrong key names the status"
lacks "$work/err" "sk-wrong-WRONG-000000" "wrong key is not printed"
expect 1 "unknown model" -- "$MLRC" models check "openai-compatible:$base/v1#nope"
contains "$work/err" "does not offer model 'nope'" "unknown model message"

# The fake server goes away: replay still works offline, live calls fail clearly.
kill "$fake_pid"; wait "$fake_pid" 2>/dev/null; fake_pid=
expect 0 "replay offline" -- "$MLRC" chat --cassette "$work/c.jsonl" --cassette-mode replay --model "openai-compatible:$base/v1#gpt-test" "remember me"
contains "$work/out" "recorded for the cassette" "replayed output"
expect 1 "replay miss" -- "$MLRC" chat --cassette "$work/c.jsonl" --cassette-mode replay --model "openai-compatible:$base/v1#gpt-test" "something else"
contains "$work/err" "no recording" "replay miss message"
expect 1 "unreachable" -- "$MLRC" chat --retries 1 --model "openai-compatible:$base/v1#gpt-test" "anyone?"
contains "$work/err" "127.0.0.1:$port" "unreachable names the host"

# Usage and configuration errors.
expect 3 "bad spec" -- "$MLRC" chat --model "nosuch:thing" "hi"
contains "$work/err" "unknown provider 'nosuch'" "bad spec message"
OPENAI_API_KEY= expect 3 "missing key" -- "$MLRC" chat --model "openai:gpt-4o" "hi"
contains "$work/err" "OPENAI_API_KEY" "missing key message"
expect 2 "no model" -- "$MLRC" chat "hi"
expect 2 "empty prompt" -- "$MLRC" chat --model "openai:gpt-4o" "  "
expect 2 "unknown option" -- "$MLRC" chat --frobnicate --model x:y "hi"
contains "$work/err" "unknown option --frobnicate" "unknown option message"
expect 2 "unknown command" -- "$MLRC" frobnicate
for c in "chat" "models"; do
  expect 0 "$c --help" -- "$MLRC" $c --help
  contains "$work/out" "Usage: mlrc $c" "$c help text"
done
expect 0 "--help" -- "$MLRC" --help
expect 0 "version" -- "$MLRC" version
contains "$work/out" "mlrc 0.1.0" "version output"

finish
