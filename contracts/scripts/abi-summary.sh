#!/usr/bin/env bash
# Prints the interface summary of the deployable contracts (constructor, functions, errors, events) from
# artifacts/, as it appears at the end of README.md.
#   scripts/abi-summary.sh           print it
#   scripts/abi-summary.sh --check   fail if README.md's copy differs
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$CONTRACTS_DIR"

summary() {
    node - "${DEPLOYABLE[@]}" <<'JS'
const names = process.argv.slice(2);
const type = (p) => (p.type.startsWith('tuple') ? '(' + p.components.map(type).join(',') + ')' + p.type.slice(5) : p.type);
const sig = (x) => `${x.name}(${x.inputs.map(type).join(',')})`;
const code = (s) => '`' + s + '`';
const lines = [];
for (const name of names) {
    const abi = require(`./artifacts/${name}.json`).abi;
    const ctor = abi.find((x) => x.type === 'constructor');
    const fns = abi.filter((x) => x.type === 'function').sort((a, b) => a.name.localeCompare(b.name));
    const isView = (f) => f.stateMutability === 'view' || f.stateMutability === 'pure';
    const out = (f) => (f.outputs.length ? ' -> (' + f.outputs.map(type).join(',') + ')' : '');
    lines.push(`### ${name}`, '');
    lines.push(`- constructor(${ctor ? ctor.inputs.map((p) => type(p) + ' ' + p.name).join(', ') : ''})`);
    lines.push('- writes: ' + fns.filter((f) => !isView(f)).map((f) => code(sig(f) + (f.stateMutability === 'payable' ? ' payable' : '') + out(f))).join(', '));
    lines.push('- views: ' + fns.filter(isView).map((f) => code(sig(f) + out(f))).join(', '));
    lines.push('- errors: ' + abi.filter((x) => x.type === 'error').map((e) => code(sig(e))).sort().join(', '));
    lines.push('- events: ' + abi.filter((x) => x.type === 'event').map((e) => code(sig(e))).sort().join(', '));
    lines.push('');
}
process.stdout.write(lines.join('\n'));
JS
}

if [[ ${1:-} == --check ]]; then
    marker='## Interface summary (generated from artifacts/ by scripts/abi-summary.sh)'
    line=$(grep -nxF "$marker" README.md | cut -d: -f1)
    if [[ -z $line || "$(tail -n +"$((line + 2))" README.md)" != "$(summary)" ]]; then
        echo "README.md's interface summary is stale: run scripts/abi-summary.sh and paste its output" >&2
        exit 1
    fi
    step "README.md interface summary matches artifacts/"
else
    summary
fi
