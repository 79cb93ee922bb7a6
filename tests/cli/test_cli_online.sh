#!/usr/bin/env bash
# `mlrc index search --source` as a user runs it, against mlrc-fake-llm serving canned API bodies
# from a folder (--serve-dir): the fallback (Semantic Scholar answers 429, OpenAlex answers), the
# output forms, the response cache serving when the server is gone, and the offline error.
# Usage: test_cli_online.sh MLRC FAKE_LLM SOURCE_DIR
set -u
MLRC=$1
FAKE=$2
SRC=$3
work=$(mktemp -d)
fake_pid=
stop_fake() {
  if [[ -n "$fake_pid" ]]; then kill "$fake_pid" 2>/dev/null; wait "$fake_pid" 2>/dev/null; fake_pid=; fi
}
cleanup() {
  stop_fake
  rm -rf "$work"
}
trap cleanup EXIT
source "$(dirname "$0")/lib.sh"

KEY=s2-cli-SECRET-7777777777
mkdir -p "$work/www/graph/v1/paper" "$work/www/api"
# Semantic Scholar: rate limited, with a Retry-After far beyond the deadline (fails fast).
printf '{"message": "Too Many Requests"}' >"$work/www/graph/v1/paper/search"
printf '429\nRetry-After: 600\n' >"$work/www/graph/v1/paper/search.status"
# OpenAlex: a documented /works body.
cat >"$work/www/works" <<'JSON'
{"meta": {"count": 1, "db_response_time_ms": 12, "page": 1, "per_page": 10},
 "results": [{"id": "https://openalex.org/W2741809807", "doi": "https://doi.org/10.7717/peerj.4375",
  "title": "The state of OA: a large-scale analysis of the prevalence and impact of Open Access articles",
  "relevance_score": 812.5, "publication_year": 2018,
  "primary_location": {"source": {"display_name": "PeerJ"}, "license": "cc-by", "landing_page_url": "https://doi.org/10.7717/peerj.4375"},
  "authorships": [{"author": {"display_name": "Heather Piwowar"}}],
  "abstract_inverted_index": {"Despite": [0], "growing": [1], "interest": [2], "in": [3], "Open": [4], "Access": [5]}}]}
JSON
# arXiv: not reached when OpenAlex answers.
cp "$SRC/tests/cli/test_cli_online.sh" "$work/www/api/query"  # any body; must never be requested

"$FAKE" --port 0 --port-file "$work/port" --serve-dir "$work/www" >"$work/fake.log" 2>&1 &
fake_pid=$!
for _ in $(seq 100); do [[ -s "$work/port" ]] && break; sleep 0.05; done
port=$(cat "$work/port")
base="http://127.0.0.1:$port"
unset HTTPS_PROXY HTTP_PROXY https_proxy http_proxy SEMANTIC_SCHOLAR_API_KEY
export MLRC_S2_URL=$base MLRC_OPENALEX_URL=$base MLRC_ARXIV_URL=$base S2_API_KEY=$KEY MLRC_HOME="$work/home"

expect 0 "fallback search" -- "$MLRC" index search --source s2,openalex,arxiv --json open access
contains "$work/out" '"source":"openalex"' "json names the answering source"
contains "$work/out" '"id":"openalex:W2741809807"' "json hit id"
contains "$work/out" '"title":"The state of OA' "json title"
contains "$work/err" "source s2 failed (rate_limited)" "stderr reports the failed source"
contains "$work/err" "retry after 600 s" "stderr says why"
contains "$work/err" "source openalex answered: 1 hits" "stderr reports who answered"
lacks "$work/err" "source arxiv" "later sources not asked"
lacks "$work/err" "$KEY" "no key on stderr"
if /usr/bin/python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
assert len(lines) == 1, lines
h = lines[0]
assert h["rank"] == 1 and h["score"] == 812.5 and h["fields"]["venue"] == "PeerJ" and h["fields"]["abstract"] == "Despite growing interest in Open Access", h
assert "title" in h["matched_fields"], h
' "$work/out"; then ok; else bad "json fields: $(cat "$work/out")"; fi

expect 0 "text output" -- "$MLRC" index search --source s2,openalex --top 3 --year-min 2018 open access
contains "$work/out" "openalex:W2741809807  (2018, PeerJ, cc-by, from openalex)" "text line names year, venue, license, source"
contains "$work/out" "Despite growing interest" "text snippet"

# Phase 1 from a paper looked up on Semantic Scholar by id, related work from the online chain
# (Semantic Scholar's search is rate limited: OpenAlex answers).
mkdir -p "$work/www/graph/v1/paper"
cat >"$work/www/graph/v1/paper/ARXIV:2408.14033" <<'JSON'
{"paperId": "b4df3ab2a9e2e3a3b3c7dc5c4a4b8a2f0f3e1d2c", "externalIds": {"ArXiv": "2408.14033"},
 "title": "MLR-Copilot: Autonomous Machine Learning Research based on Large Language Models Agents",
 "abstract": "Machine learning research, crucial for technological advancements and innovation, often faces significant challenges.",
 "year": 2024, "venue": "arXiv.org", "authors": [{"authorId": "1", "name": "Ruochen Li"}]}
JSON
expect 0 "ideas from a paper id, online sources" -- "$MLRC" ideas --paper-id arXiv:2408.14033 --sources s2,openalex \
  --model "scripted:$SRC/examples/demo/script.json" --ideas 2 --json
contains "$work/out" '"ideas"' "ideas printed"
contains "$work/out" 'openalex:W2741809807' "related work from openalex"
contains "$work/err" "source s2 failed" "the rate-limited source is reported"
check "paper saved" '[[ -f "$work/home/papers/arXiv_2408.14033.json" ]] && grep -q "MLR-Copilot" "$work/home/papers/arXiv_2408.14033.json"'
expect 1 "unknown paper id" -- "$MLRC" ideas --paper-id arXiv:0000.00000 --model "scripted:$SRC/examples/demo/script.json"
contains "$work/err" "semantic scholar" "names the source"
expect 3 "bad --sources" -- "$MLRC" ideas --paper "$SRC/examples/papers/sentiment-analysis.md" --sources bing \
  --model "scripted:$SRC/examples/demo/script.json"

# The cache folder holds the OpenAlex answer and never the key.
check "cache written" '[[ -n "$(ls "$work/home/cache/http" 2>/dev/null)" ]]'
if grep -rqF -- "$KEY" "$work/home/cache/http"; then bad "cache holds the key"; else ok; fi

# Server gone: the cached answer still serves; without the cache it is a clear network error.
stop_fake
expect 0 "cached answer offline" -- "$MLRC" index search --source openalex --json open access
contains "$work/out" '"source":"openalex"' "cached hit"
expect 1 "offline without cache" -- "$MLRC" index search --source openalex --no-cache --timeout-ms 3000 open access
contains "$work/err" "openalex: cannot reach $base/works" "offline error names source and URL"
contains "$work/err" "every source failed" "offline error lists the sources"

# A local index last in the chain answers when every online source fails.
cat >"$work/papers.jsonl" <<'JSON'
{"id": "arxiv:2408.14033", "title": "MLR-Copilot: Autonomous Machine Learning Research", "abstract": "Open access agents for research.", "year": 2024}
JSON
expect 0 "build local index" -- "$MLRC" index build --kind papers --index "$work/idx" "$work/papers.jsonl"
expect 0 "local fallback" -- "$MLRC" index search --source openalex,local --index "$work/idx" --no-cache --timeout-ms 3000 --json open access research
contains "$work/out" '"source":"local"' "local answered"
contains "$work/err" "source openalex failed (network)" "openalex failure reported"

expect 2 "unknown source" -- "$MLRC" index search --source bing open access
expect 2 "usage: no index, no source" -- "$MLRC" index search open access
finish
