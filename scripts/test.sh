#!/usr/bin/env bash
# Runs every test: the host workspace (core, host, workspace-level tests,
# which build the firmware and run it in QEMU on both simulated boards).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
bash scripts/setup.sh
cargo test --workspace "$@"
# mote-core's op features: the shipped models parse with only their kernels
# compiled in (what the real-board firmware links), and a build without one
# of them rejects the models with a typed error.
shipped=op-conv2d,op-conv2d-fused,op-depthwise-conv2d,op-add,op-resize-nearest,op-resize-bilinear
cargo test -p mote-core --no-default-features --features "$shipped" --test op_features "$@"
cargo test -p mote-core --no-default-features --features op-conv2d --test op_features "$@"
