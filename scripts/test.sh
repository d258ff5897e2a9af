#!/usr/bin/env bash
# Runs every test: the host workspace (core, host, workspace-level tests,
# which build the firmware and run it in QEMU on both simulated boards).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
bash scripts/setup.sh
cargo test --workspace "$@"
