#!/usr/bin/env bash
# Builds the contracts and writes artifacts/<Name>.json = {abi, bytecode, deployedBytecode,
# immutableRanges} for each
# deployable contract (bytecode = creation code, 0x-hex). The output is deterministic: no metadata hash,
# no CBOR trailer, stable JSON formatting.
#
#   scripts/build-artifacts.sh           rebuild and write artifacts/
#   scripts/build-artifacts.sh --check   rebuild into a temporary directory; fail if artifacts/ differs
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CONTRACTS_DIR"

mode=write
case "${1:-}" in
    "") ;;
    --check) mode=check ;;
    *) echo "usage: $0 [--check]" >&2; exit 2 ;;
esac

ensure_deps
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

if [[ $mode == check ]]; then
    step "forge build (src only) into a temporary directory"
    forge build --skip test --skip script --out "$tmp/out" --cache-path "$tmp/cache" >/dev/null
    out="$tmp/out"
else
    step "forge build"
    forge build >/dev/null
    out="$CONTRACTS_DIR/out"
fi

dest="$tmp/artifacts"
mkdir -p "$dest"
node - "$out" "$dest" "${DEPLOYABLE[@]}" <<'JS'
const fs = require('fs');
const path = require('path');
const [out, dest, ...names] = process.argv.slice(2);
for (const name of names) {
    const built = JSON.parse(fs.readFileSync(path.join(out, `${name}.sol`, `${name}.json`), 'utf8'));
    const artifact = {
        abi: built.abi,
        bytecode: built.bytecode.object,
        deployedBytecode: built.deployedBytecode.object,
        // Byte ranges of the runtime code that the constructor fills with immutables: a
        // deployed contract's code equals deployedBytecode outside them.
        immutableRanges: Object.values(built.deployedBytecode.immutableReferences || {})
            .flat()
            .map((r) => [r.start, r.length])
            .sort((a, b) => a[0] - b[0]),
    };
    if (!/^0x[0-9a-f]+$/.test(artifact.bytecode) || !/^0x[0-9a-f]+$/.test(artifact.deployedBytecode)) {
        throw new Error(`${name}: bytecode is not plain hex (unlinked library?)`);
    }
    fs.writeFileSync(path.join(dest, `${name}.json`), JSON.stringify(artifact, null, 2) + '\n');
}
JS

if [[ $mode == check ]]; then
    step "compare with the committed artifacts/"
    if ! diff -r "$dest" "$CONTRACTS_DIR/artifacts" >/dev/null; then
        diff -rq "$dest" "$CONTRACTS_DIR/artifacts" || true
        echo "artifacts/ is stale: run scripts/build-artifacts.sh and commit the result" >&2
        exit 1
    fi
    step "artifacts/ up to date (${#DEPLOYABLE[@]} contracts)"
else
    rm -rf "$CONTRACTS_DIR/artifacts"
    mkdir -p "$CONTRACTS_DIR/artifacts"
    cp "$dest"/*.json "$CONTRACTS_DIR/artifacts/"
    step "wrote artifacts/ (${#DEPLOYABLE[@]} contracts)"
fi
