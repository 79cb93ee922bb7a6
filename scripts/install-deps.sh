#!/usr/bin/env bash
# Installs the Debian 12 packages mlrcopilot needs to build, test and run its demo.
# As root it runs apt-get; as another user it prints the exact command to run and fails.
# Usage: scripts/install-deps.sh [--test]   (--test adds what the test suite needs)
set -euo pipefail

pkgs=(
  build-essential cmake ninja-build pkg-config ca-certificates
  libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev libboost-filesystem1.81-dev
  libsimdjson-dev libtomlplusplus-dev libfmt-dev libssl-dev libsqlite3-dev libpoppler-cpp-dev zlib1g-dev
  python3 python3-numpy python3-pandas python3-sklearn
)
if [[ "${1:-}" == "--test" ]]; then
  # The notebook test executes examples/notebooks/quickstart.ipynb headless.
  pkgs+=(catch2 python3-pytest python3-pip python3-setuptools python3-nbclient python3-nbformat python3-ipykernel python3-matplotlib)
fi
# ccache speeds rebuilds when present; libxapian-dev adds Xapian to the retrieval benchmark.
# Neither is required.
optional=(ccache libxapian-dev)

missing=()
for p in "${pkgs[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
opt_missing=()
for p in "${optional[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    opt_missing+=("$p")
  fi
done

if [[ ${#missing[@]} -eq 0 && ${#opt_missing[@]} -eq 0 ]]; then
  echo "install-deps: all packages present"
  exit 0
fi

if [[ $(id -u) -ne 0 ]]; then
  if [[ ${#missing[@]} -eq 0 ]]; then exit 0; fi
  echo "install-deps: missing Debian packages; run as root:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi

export DEBIAN_FRONTEND=noninteractive
echo "install-deps: installing ${missing[*]} ${opt_missing[*]}"
apt-get update -qq
# python3-sklearn -> python3-scipy -> python3-pythran depends on the unversioned libboost-dev,
# which is Boost 1.74 and conflicts with the 1.81 -dev packages we build against. Pythran only
# uses Boost headers when compiling user code, so a local shim package named libboost-dev that
# depends on libboost1.81-dev satisfies it without a second Boost.
if ! dpkg-query -W -f='${Status}' libboost-dev 2>/dev/null | grep -q "install ok installed"; then
  shim=$(mktemp -d)
  mkdir -p "$shim/pkg/DEBIAN"
  cat >"$shim/pkg/DEBIAN/control" <<CTRL
Package: libboost-dev
Version: 1.81.0~mlrc1
Architecture: all
Maintainer: mlrcopilot <noreply@localhost>
Depends: libboost1.81-dev
Description: local shim: lets packages that want libboost-dev use Boost 1.81
CTRL
  apt-get install -y -qq --no-install-recommends libboost1.81-dev >/dev/null
  dpkg-deb --build "$shim/pkg" "$shim/libboost-dev-shim.deb" >/dev/null
  dpkg -i "$shim/libboost-dev-shim.deb" >/dev/null
  rm -rf "$shim"
fi
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
if [[ ${#opt_missing[@]} -gt 0 ]]; then
  apt-get install -y -qq --no-install-recommends "${opt_missing[@]}" >/dev/null || true
fi
