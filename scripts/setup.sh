#!/usr/bin/env bash
# Makes a fresh machine ready to build, simulate and test mote. Idempotent and
# non-interactive: run it as often as you like (CI runs it every time).
#
# - A Cortex-M toolchain: an installed thumbv7em-none-eabihf target (rustup)
#   or, where rustup cannot add targets, Debian's rustc-web + cargo-web +
#   rust-web-src (host/src/firmware.rs then builds `core` with build-std) and
#   lld-22 as the linker.
# - QEMU for the simulated boards (qemu-system-arm, mps2-an386 / mps2-an500).
# - defmt-print, which decodes the firmware's logs.
set -euo pipefail

TARGET=thumbv7em-none-eabihf
DEFMT_PRINT_VERSION=1.0.0

say() { printf 'setup: %s\n' "$*"; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || die "not root and no sudo: install the packages listed in scripts/setup.sh by hand"
  SUDO="sudo"
fi

command -v cargo >/dev/null || die "cargo not found: install Rust (https://rustup.rs) first"

# 1. Toolchain for the firmware.
need_apt=()
if [ -d "$(rustc --print sysroot)/lib/rustlib/$TARGET/lib" ]; then
  say "rustup target $TARGET present"
  # mote-core must also build for Cortex-M0+ (tests/tests/core_targets.rs).
  if [ ! -d "$(rustc --print sysroot)/lib/rustlib/thumbv6m-none-eabi/lib" ]; then
    command -v rustup >/dev/null || die "no thumbv6m-none-eabi target and no rustup to add it"
    rustup target add thumbv6m-none-eabi
  fi
else
  # With rustup and internet, `rustup target add thumbv7em-none-eabihf` is the
  # simpler way (README). Without it, build `core` from Debian's library source.
  say "no installed $TARGET target: using Debian's toolchain with build-std"
  [ -f /usr/lib/rustlib/src/rust/library/core/Cargo.toml ] || need_apt+=(rust-web-src)
  [ -x /usr/bin/rustc ] || need_apt+=(rustc-web)
  [ -x /usr/bin/cargo ] || need_apt+=(cargo-web)
  command -v ld.lld-22 >/dev/null || command -v ld.lld >/dev/null || need_apt+=(lld-22)
fi

# 2. QEMU.
command -v qemu-system-arm >/dev/null || need_apt+=(qemu-system-arm)

if [ ${#need_apt[@]} -gt 0 ]; then
  command -v apt-get >/dev/null || die "need ${need_apt[*]} but apt-get is missing: install them with your package manager"
  say "installing ${need_apt[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
fi

# 3. defmt-print, pinned.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
installed=$("$CARGO_BIN/defmt-print" --version 2>/dev/null || true)
if [[ "$installed" != *"defmt-print $DEFMT_PRINT_VERSION"* ]]; then
  say "installing defmt-print $DEFMT_PRINT_VERSION"
  cargo install --quiet --locked defmt-print --version "$DEFMT_PRINT_VERSION"
fi

# 4. Host checks the CI needs.
cargo fmt --version >/dev/null 2>&1 || die "rustfmt missing: rustup component add rustfmt"
cargo clippy --version >/dev/null 2>&1 || die "clippy missing: rustup component add clippy"

# Verify everything is really there, so a later test never meets a missing tool.
qemu-system-arm --version | head -n1 | sed 's/^/setup: /'
"$CARGO_BIN/defmt-print" --version | sed 's/^/setup: /'
say "ready"
