#!/usr/bin/env bash
# The demo: set the machine up, build the firmware, and run it on both
# simulated boards (QEMU mps2-an386 Cortex-M4F and mps2-an500 Cortex-M7),
# printing its decoded defmt log and the instruction counts it measured.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
bash scripts/setup.sh
cargo build --quiet --release -p mote-host
for cpu in cortex-m4 cortex-m7; do
  echo "== $cpu"
  target/release/mote sim --cpu "$cpu"
  target/release/mote sim --cpu "$cpu" calibrate 1000000
done
