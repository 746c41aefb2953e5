# Shared setup for the contract scripts: sourced, not run.
# Puts the npm-installed forge/anvil/cast on PATH and points forge at the solc shim (an absolute path,
# because forge resolves a relative `solc` path from the current directory).

CONTRACTS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="$CONTRACTS_DIR/node_modules/.bin:$PATH"
export FOUNDRY_SOLC="$CONTRACTS_DIR/tools/solc"
export FOUNDRY_OFFLINE=true
export FOUNDRY_DISABLE_NIGHTLY_WARNING=1

# The contracts deployed by the SDK, in deployment order.
DEPLOYABLE=(RoundsManager StakeToken BondingManager ServiceRegistry TicketBroker FaultVerifier TrustedVerifier)

step() {
    printf '==> %s\n' "$*"
}

# Runs `npm ci` when node_modules is missing or was installed from another package-lock.json.
ensure_deps() {
    local stamp="$CONTRACTS_DIR/node_modules/.package-lock.sha256"
    local want
    want="$(sha256sum "$CONTRACTS_DIR/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -x "$CONTRACTS_DIR/node_modules/.bin/forge" || ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        step "npm ci (node_modules missing or stale)"
        (cd "$CONTRACTS_DIR" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" >"$stamp"
    else
        step "node_modules up to date with package-lock.json"
    fi
}
