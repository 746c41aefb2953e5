#!/usr/bin/env bash
# The contracts' whole check, as the repository's test script runs it:
# dependencies, formatting, build, tests (unit, fuzz, attacks, vectors), committed artifacts.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CONTRACTS_DIR"
start=$SECONDS

ensure_deps
step "forge --version: $(forge --version | head -n1)"
step "forge fmt --check"
forge fmt --check
step "forge build"
forge build
step "forge test (includes test_vectors: fails if vectors/tickets.json differs from the contracts' output)"
forge test
step "artifacts --check"
scripts/build-artifacts.sh --check
step "vectors/tickets.json checked by test_vectors above"
step "README interface summary --check"
scripts/abi-summary.sh --check
step "all contract checks passed in $((SECONDS - start)) s"
