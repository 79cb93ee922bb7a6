#!/usr/bin/env bash
# One entry point for the README contract.
#   bash scripts/run.sh demo   install what is missing, build, run the main job (offline demo)
#   bash scripts/run.sh test   install what is missing, build, run every test
#   bash scripts/run.sh build  install what is missing and build
# Environment: MLRC_PRESET (default: "default"; "debug" builds with ASan+UBSan), MLRC_JOBS.
set -euo pipefail
cd "$(dirname "$0")/.."
what=${1:-}
preset=${MLRC_PRESET:-default}
jobs=${MLRC_JOBS:-$(nproc)}

case "$what" in
  demo) bash scripts/install-deps.sh ;;
  test|build) bash scripts/install-deps.sh --test ;;
  *) echo "usage: bash scripts/run.sh demo|test|build" >&2; exit 2 ;;
esac

cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$jobs"

case "$what" in
  demo) exec bash scripts/demo.sh "build/$preset" ;;
  test) exec ctest --preset "$preset" -j "$jobs" ;;
esac
