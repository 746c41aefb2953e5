#!/usr/bin/env bash
# Regenerates vectors/tickets.json from the contracts (test/Vectors.t.sol, with WRITE_VECTORS=true).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CONTRACTS_DIR"
ensure_deps
step "forge test --match-test test_vectors (WRITE_VECTORS=true)"
WRITE_VECTORS=true forge test --match-test test_vectors >/dev/null
step "wrote vectors/tickets.json"
