#!/usr/bin/env bash
# `pip install ./bindings/python` with the library bundled in the package folder, offline, into
# a scratch target; then the installed package (not the source tree) must load its bundled
# library and work. Usage: pip_install.sh SOURCE_DIR LIBRARY
set -euo pipefail
src=$1 lib=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cp -r "$src/bindings/python" "$tmp/pkg"
rm -rf "$tmp/pkg/build" "$tmp/pkg"/*.egg-info
cp "$lib" "$tmp/pkg/mlrcopilot/libmlrcopilot.so.0"
/usr/bin/python3 -m pip install --quiet --no-index --no-build-isolation --no-deps --target "$tmp/site" "$tmp/pkg"
cd "$tmp"
env -u MLRC_LIB_PATH PYTHONPATH="$tmp/site" /usr/bin/python3 - "$tmp/site" "$src" <<'PY'
import sys
site, src = sys.argv[1], sys.argv[2]
import mlrcopilot as m
assert m.__file__.startswith(site), m.__file__
assert m._capi.lib_path.startswith(site), m._capi.lib_path
reply = m.Model.from_spec("scripted:" + src + "/examples/demo/script.json").chat("hello")
assert reply["text"], reply
print("installed", m.__version__, "from", site, "library", m._capi.lib_path)
PY
