//! The embedded chain's state: accounts and contracts in revm, blocks, transactions, receipts
//! and logs, a mempool for manual mining, and snapshots.

use std::collections::{BTreeMap, HashMap};

use ethers::types::transaction::eip2718::TypedTransaction;
use ethers::types::{
    Address, Bloom, Bytes, H256, Log, NameOrAddress, Transaction, TransactionReceipt, U64, U256,
};
use ethers::utils::keccak256;
use revm::context::{BlockEnv, TxEnv};
use revm::context_interface::result::{ExecutionResult, Output};
use revm::database::{CacheDB, EmptyDB};
use revm::primitives::TxKind;
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use revm::{Context, ExecuteCommitEvm, ExecuteEvm, MainBuilder, MainContext};

use super::convert::{
    addr_from_revm, addr_to_revm, bytes_from_revm, bytes_to_revm, h256_from_revm, u256_from_revm,
    u256_to_revm,
};

/// Settings of an embedded chain.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct NodeConfig {
    /// Chain id (default 31337, as anvil).
    pub chain_id: u64,
    /// Base fee per gas in wei, constant (default 1 gwei).
    pub base_fee: u64,
    /// Gas limit of a block (default 30,000,000).
    pub block_gas_limit: u64,
    /// Timestamp of block 0.
    pub genesis_timestamp: u64,
    /// Seconds between blocks.
    pub block_time: u64,
    /// Accounts funded at genesis, with their balances.
    pub funded: Vec<(Address, U256)>,
    /// Mine each transaction in its own block as it arrives (default), or keep transactions
    /// in a mempool until [`super::EmbeddedChain::mine`].
    pub automine: bool,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            chain_id: 31337,
            base_fee: 1_000_000_000,
            block_gas_limit: 30_000_000,
            genesis_timestamp: 1_700_000_000,
            block_time: 1,
            funded: Vec::new(),
            automine: true,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) struct BlockRecord {
    pub(crate) number: u64,
    pub(crate) timestamp: u64,
    pub(crate) txs: Vec<H256>,
    pub(crate) gas_used: u64,
}

#[derive(Clone, Debug)]
pub(crate) struct PendingTx {
    pub(crate) hash: H256,
    pub(crate) from: Address,
    pub(crate) tx: TypedTransaction,
    pub(crate) sig: ethers::types::Signature,
}

/// A transaction the node rejects before it runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Reject {
    /// Code -32000 as geth and anvil use, with a message.
    Invalid(String),
    /// A reverting call or estimate: code 3 with the revert data.
    Revert(Vec<u8>),
}

/// The block hash the EVM's BLOCKHASH opcode sees for `number` (revm's empty database
/// derives it from the number); the node reports the same hashes.
pub(crate) fn block_hash(number: u64) -> H256 {
    H256(keccak256(number.to_string().as_bytes()))
}

#[derive(Clone)]
pub(crate) struct NodeState {
    pub(crate) config: NodeConfig,
    pub(crate) db: CacheDB<EmptyDB>,
    pub(crate) blocks: Vec<BlockRecord>,
    pub(crate) txs: HashMap<H256, Transaction>,
    pub(crate) receipts: HashMap<H256, TransactionReceipt>,
    pub(crate) logs: Vec<Log>,
    pub(crate) mempool: BTreeMap<(Address, u64), PendingTx>,
    pub(crate) automine: bool,
}

impl NodeState {
    pub(crate) fn new(config: NodeConfig) -> Self {
        let mut db = CacheDB::new(EmptyDB::default());
        for (addr, balance) in &config.funded {
            db.insert_account_info(
                addr_to_revm(*addr),
                AccountInfo {
                    balance: u256_to_revm(*balance),
                    ..AccountInfo::default()
                },
            );
        }
        let genesis = BlockRecord {
            number: 0,
            timestamp: config.genesis_timestamp,
            txs: Vec::new(),
            gas_used: 0,
        };
        let automine = config.automine;
        NodeState {
            config,
            db,
            blocks: vec![genesis],
            txs: HashMap::new(),
            receipts: HashMap::new(),
            logs: Vec::new(),
            mempool: BTreeMap::new(),
            automine,
        }
    }

    pub(crate) fn head(&self) -> &BlockRecord {
        // The chain always has its genesis block.
        &self.blocks[self.blocks.len() - 1]
    }

    pub(crate) fn account(&mut self, a: Address) -> AccountInfo {
        use revm::Database;
        self.db
            .basic(addr_to_revm(a))
            .ok()
            .flatten()
            .unwrap_or_default()
    }

    pub(crate) fn balance(&mut self, a: Address) -> U256 {
        u256_from_revm(self.account(a).balance)
    }

    pub(crate) fn nonce(&mut self, a: Address, pending: bool) -> u64 {
        let mut n = self.account(a).nonce;
        if pending {
            while self.mempool.contains_key(&(a, n)) {
                n += 1;
            }
        }
        n
    }

    pub(crate) fn code(&mut self, a: Address) -> Bytes {
        use revm::Database;
        let info = self.account(a);
        match info.code {
            Some(c) => Bytes::from(c.original_bytes().to_vec()),
            None => self
                .db
                .code_by_hash(info.code_hash)
                .map(|c| Bytes::from(c.original_bytes().to_vec()))
                .unwrap_or_default(),
        }
    }

    pub(crate) fn set_balance(&mut self, a: Address, balance: U256) {
        let mut info = self.account(a);
        info.balance = u256_to_revm(balance);
        self.db.insert_account_info(addr_to_revm(a), info);
    }

    fn block_env(&self, number: u64, timestamp: u64, base_fee: u64) -> BlockEnv {
        BlockEnv {
            number: revm::primitives::U256::from(number),
            timestamp: revm::primitives::U256::from(timestamp),
            gas_limit: self.config.block_gas_limit,
            basefee: base_fee,
            prevrandao: Some(revm::primitives::B256::from(block_hash(number).0)),
            ..BlockEnv::default()
        }
    }

    fn run(
        &mut self,
        tx: TxEnv,
        block: BlockEnv,
        commit: bool,
        relaxed: bool,
    ) -> Result<ExecutionResult, Reject> {
        let chain_id = self.config.chain_id;
        let mut evm = Context::mainnet()
            .with_db(&mut self.db)
            .modify_cfg_chained(|c| {
                c.chain_id = chain_id;
                c.spec = SpecId::CANCUN;
                if relaxed {
                    c.disable_nonce_check = true;
                }
            })
            .modify_block_chained(|b| *b = block)
            .build_mainnet();
        let r = if commit {
            evm.transact_commit(tx)
        } else {
            evm.transact(tx).map(|r| r.result)
        };
        r.map_err(|e| Reject::Invalid(e.to_string()))
    }

    /// Runs a call against the latest state without changing it.
    pub(crate) fn call(&mut self, req: &CallRequest) -> Result<ExecutionResult, Reject> {
        let head = self.head().clone();
        let block = self.block_env(head.number + 1, head.timestamp + self.config.block_time, 0);
        let tx = TxEnv {
            caller: addr_to_revm(req.from.unwrap_or_default()),
            gas_limit: req.gas.unwrap_or(self.config.block_gas_limit),
            gas_price: 0,
            kind: match req.to {
                Some(to) => TxKind::Call(addr_to_revm(to)),
                None => TxKind::Create,
            },
            value: u256_to_revm(req.value.unwrap_or_default()),
            data: bytes_to_revm(&req.data.clone().unwrap_or_default()),
            nonce: 0,
            chain_id: Some(self.config.chain_id),
            ..TxEnv::default()
        };
        self.run(tx, block, false, true)
    }

    /// The gas a transaction needs: what it spends, raised until a run with that limit succeeds.
    pub(crate) fn estimate_gas(&mut self, req: &CallRequest) -> Result<u64, Reject> {
        let mut r = req.clone();
        r.gas = None;
        let first = self.call(&r)?;
        match &first {
            ExecutionResult::Success { gas, .. } => {
                let mut limit = gas.total_gas_spent().max(21_000);
                for _ in 0..16 {
                    r.gas = Some(limit);
                    if let Ok(ExecutionResult::Success { .. }) = self.call(&r) {
                        return Ok(limit);
                    }
                    limit = (limit + limit / 8).min(self.config.block_gas_limit);
                }
                Ok(self.config.block_gas_limit)
            }
            ExecutionResult::Revert { output, .. } => Err(Reject::Revert(output.to_vec())),
            ExecutionResult::Halt { reason, .. } => {
                Err(Reject::Invalid(format!("execution halted: {reason:?}")))
            }
        }
    }

    /// Accepts a signed transaction: into the mempool, and mined at once when automining.
    pub(crate) fn submit(
        &mut self,
        hash: H256,
        from: Address,
        tx: TypedTransaction,
        sig: ethers::types::Signature,
    ) -> Result<H256, Reject> {
        if let Some(id) = tx.chain_id()
            && id.as_u64() != self.config.chain_id
        {
            return Err(Reject::Invalid(format!("invalid chain id {id}")));
        }
        let nonce = tx.nonce().map_or(0, |n| n.as_u64());
        let current = self.nonce(from, false);
        if nonce < current {
            return Err(Reject::Invalid("nonce too low".into()));
        }
        if let Some(old) = self.mempool.get(&(from, nonce)) {
            let old_price = max_fee(&old.tx);
            if max_fee(&tx) < old_price + old_price / 10 {
                return Err(Reject::Invalid(
                    "replacement transaction underpriced".into(),
                ));
            }
            self.txs.remove(&old.hash);
        } else if self.automine && nonce != self.nonce(from, true) {
            return Err(Reject::Invalid("nonce too high".into()));
        }
        let pending = PendingTx {
            hash,
            from,
            tx,
            sig,
        };
        self.txs.insert(hash, self.tx_json(&pending, None, 0));
        self.mempool.insert((from, nonce), pending);
        if self.automine {
            self.mine_block();
            if !self.receipts.contains_key(&hash) {
                self.txs.remove(&hash);
                return Err(Reject::Invalid("transaction could not be included".into()));
            }
        }
        Ok(hash)
    }

    fn tx_json(&self, p: &PendingTx, block: Option<u64>, index: u64) -> Transaction {
        let t = &p.tx;
        let (gas_price, max_fee_per_gas, max_priority, ty) = match t {
            TypedTransaction::Eip1559(e) => (
                None,
                e.max_fee_per_gas,
                e.max_priority_fee_per_gas,
                Some(U64::from(2)),
            ),
            TypedTransaction::Eip2930(e) => (e.tx.gas_price, None, None, Some(U64::from(1))),
            TypedTransaction::Legacy(l) => (l.gas_price, None, None, None),
        };
        Transaction {
            hash: p.hash,
            nonce: t.nonce().copied().unwrap_or_default(),
            block_hash: block.map(block_hash),
            block_number: block.map(U64::from),
            transaction_index: block.map(|_| U64::from(index)),
            from: p.from,
            to: t.to().and_then(|n| match n {
                NameOrAddress::Address(a) => Some(*a),
                NameOrAddress::Name(_) => None,
            }),
            value: t.value().copied().unwrap_or_default(),
            gas_price: gas_price.or(max_fee_per_gas),
            gas: t.gas().copied().unwrap_or_default(),
            input: t.data().cloned().unwrap_or_default(),
            v: U64::from(p.sig.v),
            r: p.sig.r,
            s: p.sig.s,
            transaction_type: ty,
            max_fee_per_gas,
            max_priority_fee_per_gas: max_priority,
            chain_id: t.chain_id().map(|c| U256::from(c.as_u64())),
            ..Transaction::default()
        }
    }

    /// Mines one block with every mempool transaction that fits, in nonce order per sender.
    pub(crate) fn mine_block(&mut self) {
        let head = self.head().clone();
        let number = head.number + 1;
        let timestamp = head.timestamp + self.config.block_time;
        let base_fee = self.config.base_fee;
        let block = self.block_env(number, timestamp, base_fee);
        let pending: Vec<PendingTx> = std::mem::take(&mut self.mempool).into_values().collect();
        let mut included = Vec::new();
        let mut cumulative = 0u64;
        let mut leftover = BTreeMap::new();
        for p in pending {
            let nonce = p.tx.nonce().map_or(0, |n| n.as_u64());
            if nonce != self.nonce(p.from, false) {
                leftover.insert((p.from, nonce), p);
                continue;
            }
            let gas_limit =
                p.tx.gas()
                    .map_or(self.config.block_gas_limit, |g| g.low_u64());
            if cumulative + gas_limit > self.config.block_gas_limit {
                leftover.insert((p.from, nonce), p);
                continue;
            }
            let env = tx_env(&p, self.config.chain_id);
            match self.run(env, block.clone(), true, false) {
                Ok(result) => {
                    let index = included.len() as u64;
                    let used = result.gas().tx_gas_used();
                    cumulative += used;
                    let receipt =
                        self.receipt(&p, &result, number, index, cumulative, used, base_fee);
                    self.logs.extend(receipt.logs.iter().cloned());
                    self.txs
                        .insert(p.hash, self.tx_json(&p, Some(number), index));
                    self.receipts.insert(p.hash, receipt);
                    included.push(p.hash);
                }
                Err(_) => {
                    // Invalid at execution time (e.g. cannot pay for gas): dropped.
                    self.txs.remove(&p.hash);
                }
            }
        }
        self.mempool = leftover;
        self.blocks.push(BlockRecord {
            number,
            timestamp,
            txs: included,
            gas_used: cumulative,
        });
    }

    #[allow(clippy::too_many_arguments)]
    fn receipt(
        &self,
        p: &PendingTx,
        result: &ExecutionResult,
        number: u64,
        index: u64,
        cumulative: u64,
        used: u64,
        base_fee: u64,
    ) -> TransactionReceipt {
        let log_base = self.logs.len();
        let logs: Vec<Log> = result
            .logs()
            .iter()
            .enumerate()
            .map(|(i, l)| Log {
                address: addr_from_revm(l.address),
                topics: l.data.topics().iter().map(|t| h256_from_revm(*t)).collect(),
                data: bytes_from_revm(&l.data.data),
                block_hash: Some(block_hash(number)),
                block_number: Some(U64::from(number)),
                transaction_hash: Some(p.hash),
                transaction_index: Some(U64::from(index)),
                log_index: Some(U256::from(log_base + i)),
                transaction_log_index: Some(U256::from(i)),
                log_type: None,
                removed: Some(false),
            })
            .collect();
        let contract_address = match result {
            ExecutionResult::Success {
                output: Output::Create(_, Some(a)),
                ..
            } => Some(addr_from_revm(*a)),
            _ => None,
        };
        let price = effective_price(&p.tx, base_fee);
        TransactionReceipt {
            transaction_hash: p.hash,
            transaction_index: U64::from(index),
            block_hash: Some(block_hash(number)),
            block_number: Some(U64::from(number)),
            from: p.from,
            to: p.tx.to().and_then(|n| n.as_address().copied()),
            cumulative_gas_used: U256::from(cumulative),
            gas_used: Some(U256::from(used)),
            contract_address,
            logs,
            status: Some(U64::from(u64::from(result.is_success()))),
            logs_bloom: Bloom::default(),
            transaction_type: match p.tx {
                TypedTransaction::Eip1559(_) => Some(U64::from(2)),
                TypedTransaction::Eip2930(_) => Some(U64::from(1)),
                TypedTransaction::Legacy(_) => Some(U64::zero()),
            },
            effective_gas_price: Some(price),
            ..TransactionReceipt::default()
        }
    }
}

fn max_fee(tx: &TypedTransaction) -> U256 {
    match tx {
        TypedTransaction::Eip1559(e) => e.max_fee_per_gas.unwrap_or_default(),
        TypedTransaction::Eip2930(e) => e.tx.gas_price.unwrap_or_default(),
        TypedTransaction::Legacy(l) => l.gas_price.unwrap_or_default(),
    }
}

fn effective_price(tx: &TypedTransaction, base_fee: u64) -> U256 {
    match tx {
        TypedTransaction::Eip1559(e) => {
            let max = e.max_fee_per_gas.unwrap_or_default();
            let tip = e.max_priority_fee_per_gas.unwrap_or_default();
            max.min(U256::from(base_fee) + tip)
        }
        other => max_fee(other),
    }
}

fn tx_env(p: &PendingTx, chain_id: u64) -> TxEnv {
    let t = &p.tx;
    let (tx_type, gas_price, priority) = match t {
        TypedTransaction::Eip1559(e) => (
            2u8,
            e.max_fee_per_gas.unwrap_or_default().low_u128(),
            Some(e.max_priority_fee_per_gas.unwrap_or_default().low_u128()),
        ),
        TypedTransaction::Eip2930(e) => (1, e.tx.gas_price.unwrap_or_default().low_u128(), None),
        TypedTransaction::Legacy(l) => (0, l.gas_price.unwrap_or_default().low_u128(), None),
    };
    TxEnv {
        tx_type,
        caller: addr_to_revm(p.from),
        gas_limit: t.gas().map_or(30_000_000, |g| g.low_u64()),
        gas_price,
        gas_priority_fee: priority,
        kind: match t.to().and_then(|n| n.as_address().copied()) {
            Some(to) => TxKind::Call(addr_to_revm(to)),
            None => TxKind::Create,
        },
        value: u256_to_revm(t.value().copied().unwrap_or_default()),
        data: bytes_to_revm(&t.data().cloned().unwrap_or_default()),
        nonce: t.nonce().map_or(0, |n| n.as_u64()),
        chain_id: t.chain_id().map(|c| c.as_u64()).or(Some(chain_id)),
        ..TxEnv::default()
    }
}

/// The fields of an `eth_call` / `eth_estimateGas` request the node reads.
#[derive(Clone, Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CallRequest {
    pub(crate) from: Option<Address>,
    pub(crate) to: Option<Address>,
    #[serde(default, deserialize_with = "opt_u64")]
    pub(crate) gas: Option<u64>,
    pub(crate) value: Option<U256>,
    #[serde(alias = "input")]
    pub(crate) data: Option<Bytes>,
}

fn opt_u64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    let v: Option<U256> = serde::Deserialize::deserialize(d)?;
    Ok(v.map(|v| {
        if v > U256::from(u64::MAX) {
            u64::MAX
        } else {
            v.as_u64()
        }
    }))
}
