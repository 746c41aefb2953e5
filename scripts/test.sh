#!/usr/bin/env bash
# The one test command: installs what a fresh machine lacks, then runs every check CI runs.
#
#   scripts/test.sh            everything
#   SKIP_INSTALL=1 scripts/test.sh   skip the install stage (tools already present)
#
# Stages: install, fmt, clippy, doc, contracts, tests (nextest + doc tests), the demo
# (README command 1 without nasm and ffmpeg on the PATH), fuzz harness check, bench build. Each prints how long it took; the run stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
export RUST_BACKTRACE=${RUST_BACKTRACE:-1}
# A clean checkout gains nothing from incremental caches, and they cost gigabytes of disk.
export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}

declare -a SUMMARY=()
disk_free() { df -h --output=avail "$ROOT" 2>/dev/null | tail -n 1 | tr -d ' '; }
target_size() { if [ -d "$ROOT/target" ]; then du -sh "$ROOT/target" 2>/dev/null | cut -f1; else echo 0; fi; }
stage() {
  local name=$1; shift
  local t0=$SECONDS
  echo "==> $name"
  "$@"
  local dt=$((SECONDS - t0))
  SUMMARY+=("$(printf '%-10s %4ds  target %s, disk free %s' "$name" "$dt" "$(target_size)" "$(disk_free)")")
  echo "<== $name: ${dt}s"
}

apt_install() {
  local missing=()
  for pkg in "$@"; do
    dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "installing: ${missing[*]}"
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
}

install() {
  # Media crates: nasm makes openh264 and rav1e use their assembly (2-3x faster); ffmpeg and
  # ffprobe generate test media and check real output; the hardware backend links FFmpeg's
  # libraries.
  local pkgs=()
  if [ -f scripts/apt-packages.txt ]; then
    while read -r p; do [ -n "$p" ] && [ "${p#\#}" = "$p" ] && pkgs+=("$p"); done < scripts/apt-packages.txt
  fi
  [ ${#pkgs[@]} -gt 0 ] && apt_install "${pkgs[@]}"
  if ! command -v cargo-nextest >/dev/null 2>&1; then
    cargo install cargo-nextest --locked
  fi
  # Livepeer's Python SDK: the interop tests check our go-livepeer messages against the schema
  # it ships and exchange bytes with its classes. It declares Python 3.12 but installs and
  # imports on 3.11.
  if ! python3 -c 'import livepeer_gateway' >/dev/null 2>&1; then
    python3 -m pip install --quiet --disable-pip-version-check --ignore-requires-python \
      --only-binary=av livepeer-gateway
  fi
  # Contracts: solc, forge and anvil come from npm (see contracts/README.md); anvil also
  # serves the JSON-RPC backend's tests.
  if [ -f contracts/scripts/lib.sh ]; then
    bash -c 'source contracts/scripts/lib.sh && ensure_deps'
  fi
}

fmt() { cargo fmt --all -- --check; }
clippy() { cargo clippy --locked --workspace --all-targets --all-features -- -D warnings; }
doc() { RUSTDOCFLAGS="-D warnings" cargo doc --locked --workspace --no-deps --all-features; }
contracts() {
  # forge fmt/build/test (unit, fuzz, attacks, vectors), committed artifacts up to date, then
  # gas on anvil against Livepeer's figures (fails above half of Livepeer's on any path with a figure,
  # outside two documented caps).
  contracts/scripts/test.sh
  contracts/scripts/gas.sh
}
tests() {
  if [ -d contracts/node_modules/.bin ]; then
    export PATH="$ROOT/contracts/node_modules/.bin:$PATH"
    ANVIL_BIN="$(command -v anvil || true)"
    export ANVIL_BIN
  fi
  cargo nextest run --locked --workspace --all-features --no-fail-fast
  cargo test --locked --workspace --all-features --doc
}
fuzz() {
  # The fuzz targets build with cargo-fuzz on nightly; here we check they still compile
  # against the current APIs.
  CARGO_TARGET_DIR="$ROOT/target" cargo check --manifest-path fuzz/Cargo.toml --bins --quiet
}
# A PATH holding every program of the current one except those named: what a new user's
# machine has (a Rust toolchain and a C/C++ compiler, no nasm, no ffmpeg). Prints it.
path_without() {
  local bin="$ROOT/target/path-without" dir prog name
  rm -rf "$bin"
  mkdir -p "$bin"
  local -a dirs
  IFS=: read -r -a dirs <<<"$PATH"
  for dir in "${dirs[@]}"; do
    [ -d "$dir" ] || continue
    for prog in "$dir"/*; do
      name=${prog##*/}
      [ -f "$prog" ] && [ -x "$prog" ] && [ ! -e "$bin/$name" ] || continue
      case " $* " in *" $name "*) continue ;; esac
      ln -s "$prog" "$bin/$name"
    done
  done
  echo "$bin"
}
demo() {
  # README command 1 as a new user runs it: nasm and ffmpeg off the PATH, and a target
  # directory that only this stage builds, so every artifact in it was built without them
  # (cold on a fresh checkout, then incremental). Its output must be quiet: no codec lines.
  local path out prog rc=0
  path=$(path_without nasm ndisasm ffmpeg ffprobe ffplay)
  for prog in nasm ffmpeg ffprobe; do
    if PATH=$path command -v "$prog"; then
      echo "$prog is still on the PATH"
      return 1
    fi
  done
  out=$(mktemp -d)
  env -u NASM PATH="$path" CARGO_TARGET_DIR="$ROOT/target/demo" \
    cargo run --locked -p livepeer-examples --bin devnet -- --cheat --out "$out/devnet-out" \
    2>"$out/stderr" || rc=$?
  cat "$out/stderr" >&2
  if [ "$rc" -eq 0 ] && grep -qF '[OpenH264]' "$out/stderr"; then
    echo "codec library output on stderr"
    rc=1
  fi
  if [ "$rc" -eq 0 ] && [ ! -s "$out/devnet-out/index.m3u8" ]; then
    echo "no master playlist written"
    rc=1
  fi
  rm -rf "$out"
  # Its target directory is a second build of the node's whole dependency tree; it is dropped
  # once used (DEMO_KEEP=1 keeps it for the next run).
  [ "${DEMO_KEEP:-0}" = 1 ] || rm -rf "$ROOT/target/demo"
  return "$rc"
}
# Every criterion bench lives in the benches crate; building only it keeps the chain and
# codec libraries out of the release build unless a bench uses them.
bench() { cargo bench --locked -p livepeer-benches --benches --no-run; }

if [ "${SKIP_INSTALL:-0}" != 1 ]; then stage install install; fi
stage fmt fmt
stage clippy clippy
stage doc doc
stage contracts contracts
stage tests tests
stage demo demo
stage fuzz fuzz
stage bench bench

echo
echo "stage times:"
printf '  %s\n' "${SUMMARY[@]}"
echo "all checks passed"
