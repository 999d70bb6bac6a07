#!/usr/bin/env bash
# The test command of mptfo: installs the system packages the suite needs
# when they are missing (Debian, as root), then runs every check and test.
# .ci/run calls exactly this. Usage: scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages the suite uses, keyed by a file each one provides.
declare -A NEED=(
  [/usr/bin/tshark]=tshark
  [/usr/sbin/ip]=iproute2
  [/usr/sbin/ethtool]=ethtool
  [/usr/bin/pkg-config]=pkg-config
  [/usr/include/dpdk/rte_ethdev.h]=libdpdk-dev
  [/usr/lib/x86_64-linux-gnu/dpdk]=dpdk
  [/usr/lib/llvm-14/lib/libclang.so]=libclang-dev
  [/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf]=fonts-dejavu-core
)
missing=()
for path in "${!NEED[@]}"; do
  [ -e "$path" ] || missing+=("${NEED[$path]}")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    echo "== installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "!! missing packages (${missing[*]}): tests that need them will say SKIPPED" >&2
  fi
fi

echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== cargo test"
cargo test --workspace
