#!/usr/bin/env bash
# Rebuilds livepeer-artifacts/ from Livepeer's own compiler inputs.
#
#   scripts/build-livepeer-artifacts.sh <livepeer/protocol checkout> <solc 0.8.9 npm package dir>
#
# The first argument is a checkout (or an exported tree) of github.com/livepeer/protocol at the
# commit named in livepeer-artifacts/PROVENANCE.md; the script reads only its
# deployments/arbitrumMainnet/{*.json,solcInputs/*.json}. The second is the directory of the
# npm package `solc@0.8.9` (solcjs), e.g. `npm i --prefix /tmp/solc089 solc@0.8.9` then
# /tmp/solc089/node_modules/solc. The script fetches nothing: it compiles each committed
# standard-JSON input exactly as recorded (optimizer on, runs 200; only the output selection is
# narrowed), writes ABI + creation bytecode per contract, and checks each runtime code against
# the `deployedBytecode` recorded for the Arbitrum One deployment with the CBOR metadata
# trailer removed, and records the result in livepeer-artifacts/checks.json. It exits
# non-zero on any mismatch.
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 <livepeer/protocol checkout> <solc@0.8.9 npm package dir>" >&2
    exit 2
fi
PROTOCOL="$(cd "$1" && pwd)"
SOLC_JS="$(cd "$2" && pwd)"
HERE="$(cd "$(dirname "$0")/.." && pwd)"
OUT="$HERE/livepeer-artifacts"
mkdir -p "$OUT"

node - "$PROTOCOL" "$SOLC_JS" "$OUT" "$HERE/stub/DummyL2LPTDataCache.sol" <<'JS'
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");
const [protocol, solcDir, out, stubPath] = process.argv.slice(2);
const solc = require(solcDir);
if (!solc.version().startsWith("0.8.9+commit.e5eed63a")) {
    console.error("need solc 0.8.9+commit.e5eed63a, got " + solc.version());
    process.exit(1);
}
const dep = (name) =>
    JSON.parse(fs.readFileSync(path.join(protocol, "deployments/arbitrumMainnet", name + ".json")));

// artifact name -> [source, contract, deployment whose solcInput built it and whose code we check]
const WANT = {
    Controller: ["contracts/Controller.sol", "Controller", "Controller"],
    ManagerProxy: ["contracts/ManagerProxy.sol", "ManagerProxy", "TicketBrokerProxy"],
    TicketBroker: ["contracts/pm/TicketBroker.sol", "TicketBroker", "TicketBrokerTarget"],
    BondingManager: ["contracts/bonding/BondingManager.sol", "BondingManager", "BondingManagerTarget"],
    SortedDoublyLL: ["contracts/libraries/SortedDoublyLL.sol", "SortedDoublyLL", "SortedDoublyLL"],
    BondingVotes: ["contracts/bonding/BondingVotes.sol", "BondingVotes", "BondingVotesTarget"],
    RoundsManager: ["contracts/rounds/RoundsManager.sol", "RoundsManager", "RoundsManagerTarget"],
    Minter: ["contracts/token/Minter.sol", "Minter", "Minter"],
    ServiceRegistry: ["contracts/ServiceRegistry.sol", "ServiceRegistry", "ServiceRegistryTarget"],
    // No Arbitrum deployment of this one comes from livepeer/protocol (L2 LPT is the bridge's
    // token); it is compiled from the same input as the Controller.
    LivepeerToken: ["contracts/token/LivepeerToken.sol", "LivepeerToken", null, "Controller"],
};

// Further deployments of the same code from the same input, checked too.
const ALSO = {
    ManagerProxy: ["BondingManagerProxy", "RoundsManagerProxy", "ServiceRegistryProxy"],
};

const stripMeta = (hex) => {
    hex = hex.replace(/^0x/, "");
    const n = parseInt(hex.slice(-4), 16);
    return hex.slice(0, hex.length - 4 - 2 * n);
};
const sha256 = (buf) => crypto.createHash("sha256").update(buf).digest("hex");

// Group by compiler input so each input is compiled once.
const groups = {};
for (const [name, [src, contract, deployment, inputFrom]] of Object.entries(WANT)) {
    const d = dep(deployment || inputFrom);
    (groups[d.solcInputHash] ||= []).push({ name, src, contract, deployment, d });
}

const report = [];
for (const [hash, items] of Object.entries(groups)) {
    const inputPath = path.join(protocol, "deployments/arbitrumMainnet/solcInputs", hash + ".json");
    const raw = fs.readFileSync(inputPath);
    const input = JSON.parse(raw);
    input.settings.outputSelection = {};
    for (const it of items) {
        input.settings.outputSelection[it.src] ||= {};
        input.settings.outputSelection[it.src][it.contract] = [
            "abi", "evm.bytecode.object", "evm.bytecode.linkReferences", "evm.deployedBytecode.object",
        ];
    }
    console.error(`compiling ${hash} (${items.map((i) => i.name).join(", ")})`);
    const output = JSON.parse(solc.compile(JSON.stringify(input)));
    const errors = (output.errors || []).filter((e) => e.severity === "error");
    if (errors.length) {
        console.error(errors.map((e) => e.formattedMessage).join("\n"));
        process.exit(1);
    }
    for (const it of items) {
        const c = output.contracts[it.src][it.contract];
        const runtime = c.evm.deployedBytecode.object;
        let check = "no Arbitrum deployment to compare";
        if (it.deployment) {
            // hardhat-deploy records a library user's code unlinked (with the `__$…$__`
            // placeholders), so it is compared as the compiler emits it.
            const ours = stripMeta(runtime);
            const theirs = stripMeta(it.d.deployedBytecode.toLowerCase());
            const fullEqual = runtime === it.d.deployedBytecode.toLowerCase().replace(/^0x/, "");
            if (ours !== theirs) {
                console.error(`MISMATCH ${it.name} against ${it.deployment}`);
                process.exit(1);
            }
            check = fullEqual ? "identical, metadata included" : "identical apart from the metadata hash";
            for (const other of ALSO[it.name] || []) {
                const o = dep(other);
                if (o.solcInputHash !== hash || stripMeta(o.deployedBytecode.toLowerCase()) !== ours) {
                    console.error(`MISMATCH ${it.name} against ${other}`);
                    process.exit(1);
                }
                check += `; also ${other}`;
            }
        }
        const artifact = {
            contractName: it.contract,
            sourceName: it.src,
            compiler: solc.version(),
            solcInputHash: hash,
            abi: c.abi,
            bytecode: "0x" + c.evm.bytecode.object,
            linkReferences: c.evm.bytecode.linkReferences,
        };
        fs.writeFileSync(path.join(out, it.name + ".json"), JSON.stringify(artifact, null, 1) + "\n");
        report.push({
            name: it.name,
            source: `${it.src}:${it.contract}`,
            solcInputHash: hash,
            solcInputSha256: sha256(raw),
            deployment: it.deployment,
            address: it.deployment ? it.d.address : null,
            check,
        });
    }
}

// Our own stub, compiled with the same compiler and settings.
{
    const input = {
        language: "Solidity",
        sources: { "DummyL2LPTDataCache.sol": { content: fs.readFileSync(stubPath, "utf8") } },
        settings: {
            optimizer: { enabled: true, runs: 200 },
            outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
        },
    };
    const output = JSON.parse(solc.compile(JSON.stringify(input)));
    const errors = (output.errors || []).filter((e) => e.severity === "error");
    if (errors.length) {
        console.error(errors.map((e) => e.formattedMessage).join("\n"));
        process.exit(1);
    }
    const c = output.contracts["DummyL2LPTDataCache.sol"].DummyL2LPTDataCache;
    fs.writeFileSync(
        path.join(out, "DummyL2LPTDataCache.json"),
        JSON.stringify({
            contractName: "DummyL2LPTDataCache",
            sourceName: "stub/DummyL2LPTDataCache.sol",
            compiler: solc.version(),
            abi: c.abi,
            bytecode: "0x" + c.evm.bytecode.object,
            linkReferences: {},
        }, null, 1) + "\n",
    );
}
report.sort((a, b) => a.name.localeCompare(b.name));
fs.writeFileSync(path.join(out, "checks.json"), JSON.stringify(report, null, 1) + "\n");
for (const r of report) console.log(`${r.name}: ${r.check}`);
JS
