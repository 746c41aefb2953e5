//! The embedded chain as an ethers JSON-RPC transport: the methods a `Provider` and a
//! `SignerMiddleware` use, answered in process.

use std::fmt::Debug;

use async_trait::async_trait;
use ethers::providers::{JsonRpcClient, JsonRpcError, ProviderError, RpcError};
use ethers::types::transaction::eip2718::TypedTransaction;
use ethers::types::{
    Block, BlockNumber, Bytes, FeeHistory, Filter, H256, Log, Transaction, TxHash, U64, U256,
};
use ethers::utils::keccak256;
use ethers::utils::rlp::Rlp;
use revm::context_interface::result::ExecutionResult;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use thiserror::Error;

use super::EmbeddedChain;
use super::node::{CallRequest, NodeState, Reject, block_hash};

/// An error answered by the embedded chain.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum EmbeddedRpcError {
    /// A JSON-RPC error response (a revert carries its data).
    #[error("{0}")]
    Response(JsonRpcError),
    /// Parameters or results that do not (de)serialize.
    #[error(transparent)]
    Serde(#[from] serde_json::Error),
}

impl RpcError for EmbeddedRpcError {
    fn as_error_response(&self) -> Option<&JsonRpcError> {
        match self {
            EmbeddedRpcError::Response(e) => Some(e),
            EmbeddedRpcError::Serde(_) => None,
        }
    }
    fn as_serde_error(&self) -> Option<&serde_json::Error> {
        match self {
            EmbeddedRpcError::Serde(e) => Some(e),
            EmbeddedRpcError::Response(_) => None,
        }
    }
}

impl From<EmbeddedRpcError> for ProviderError {
    fn from(e: EmbeddedRpcError) -> Self {
        ProviderError::JsonRpcClientError(Box::new(e))
    }
}

fn invalid(message: impl Into<String>) -> EmbeddedRpcError {
    EmbeddedRpcError::Response(JsonRpcError {
        code: -32000,
        message: message.into(),
        data: None,
    })
}

fn from_reject(r: Reject) -> EmbeddedRpcError {
    match r {
        Reject::Invalid(m) => invalid(m),
        Reject::Revert(data) => EmbeddedRpcError::Response(JsonRpcError {
            code: 3,
            message: "execution reverted".into(),
            data: Some(Value::String(format!("0x{}", hex::encode(data)))),
        }),
    }
}

fn param<T: DeserializeOwned>(params: &Value, i: usize) -> Result<T, EmbeddedRpcError> {
    let v = params.get(i).cloned().unwrap_or(Value::Null);
    Ok(serde_json::from_value(v)?)
}

fn block_number(state: &NodeState, v: &Value) -> Result<u64, EmbeddedRpcError> {
    let latest = state.head().number;
    if v.is_null() {
        return Ok(latest);
    }
    let b: BlockNumber = serde_json::from_value(v.clone())?;
    Ok(match b {
        BlockNumber::Number(n) => n.as_u64(),
        BlockNumber::Earliest => 0,
        _ => latest,
    })
}

#[async_trait]
impl JsonRpcClient for EmbeddedChain {
    type Error = EmbeddedRpcError;

    async fn request<T, R>(&self, method: &str, params: T) -> Result<R, EmbeddedRpcError>
    where
        T: Debug + Serialize + Send + Sync,
        R: DeserializeOwned + Send,
    {
        let params = serde_json::to_value(params)?;
        let params = if params.is_null() {
            Value::Array(Vec::new())
        } else {
            params
        };
        let result = self.dispatch(method, &params)?;
        Ok(serde_json::from_value(result)?)
    }
}

impl EmbeddedChain {
    fn dispatch(&self, method: &str, params: &Value) -> Result<Value, EmbeddedRpcError> {
        let mut s = self.lock();
        let v = match method {
            "eth_chainId" => json!(U64::from(s.config.chain_id)),
            "net_version" => json!(s.config.chain_id.to_string()),
            "web3_clientVersion" => json!("livepeer-rs/embedded-evm"),
            "eth_blockNumber" => json!(U64::from(s.head().number)),
            "eth_gasPrice" => json!(U256::from(s.config.base_fee)),
            "eth_maxPriorityFeePerGas" => json!(U256::zero()),
            "eth_accounts" => json!(s.config.funded.iter().map(|(a, _)| *a).collect::<Vec<_>>()),
            "eth_getBalance" => {
                let a = param(params, 0)?;
                json!(s.balance(a))
            }
            "eth_getTransactionCount" => {
                let a = param(params, 0)?;
                let pending = params.get(1).and_then(Value::as_str) == Some("pending");
                json!(U256::from(s.nonce(a, pending)))
            }
            "eth_getCode" => {
                let a = param(params, 0)?;
                json!(s.code(a))
            }
            "eth_call" => {
                let req: CallRequest = param(params, 0)?;
                match s.call(&req).map_err(from_reject)? {
                    ExecutionResult::Success { output, .. } => {
                        json!(Bytes::from(output.data().to_vec()))
                    }
                    ExecutionResult::Revert { output, .. } => {
                        return Err(from_reject(Reject::Revert(output.to_vec())));
                    }
                    ExecutionResult::Halt { reason, .. } => {
                        return Err(invalid(format!("execution halted: {reason:?}")));
                    }
                }
            }
            "eth_estimateGas" => {
                let req: CallRequest = param(params, 0)?;
                json!(U256::from(s.estimate_gas(&req).map_err(from_reject)?))
            }
            "eth_sendRawTransaction" => {
                let raw: Bytes = param(params, 0)?;
                let rlp = Rlp::new(raw.as_ref());
                let (tx, sig) = TypedTransaction::decode_signed(&rlp)
                    .map_err(|e| invalid(format!("invalid transaction: {e}")))?;
                let from = sig
                    .recover(tx.sighash())
                    .map_err(|e| invalid(format!("invalid signature: {e}")))?;
                let hash = H256(keccak256(raw.as_ref()));
                json!(s.submit(hash, from, tx, sig).map_err(from_reject)?)
            }
            "eth_getTransactionReceipt" => {
                let h: H256 = param(params, 0)?;
                json!(s.receipts.get(&h))
            }
            "eth_getTransactionByHash" => {
                let h: H256 = param(params, 0)?;
                json!(s.txs.get(&h))
            }
            "eth_getBlockByNumber" => {
                let n = block_number(&s, params.get(0).unwrap_or(&Value::Null))?;
                let full = params.get(1).and_then(Value::as_bool).unwrap_or(false);
                block_json(&s, n, full)
            }
            "eth_feeHistory" => {
                let count: U256 = param(params, 0)?;
                let newest = block_number(&s, params.get(1).unwrap_or(&Value::Null))?;
                let count = count.low_u64().clamp(1, 1024).min(newest + 1);
                let oldest = newest + 1 - count;
                let percentiles: Vec<f64> = param(params, 2).unwrap_or_default();
                json!(FeeHistory {
                    base_fee_per_gas: vec![U256::from(s.config.base_fee); count as usize + 1],
                    gas_used_ratio: (oldest..=newest).map(|n| ratio(&s, n)).collect(),
                    oldest_block: U256::from(oldest),
                    reward: vec![vec![U256::zero(); percentiles.len()]; count as usize],
                })
            }
            "eth_getLogs" => {
                let f: Filter = param(params, 0)?;
                json!(filter_logs(&s, &f))
            }
            "evm_mine" | "anvil_mine" => {
                let n: Option<U256> = param(params, 0).unwrap_or(None);
                for _ in 0..n.map_or(1, |n| n.low_u64().max(1)) {
                    s.mine_block();
                }
                json!("0x0")
            }
            "evm_setAutomine" => {
                s.automine = param(params, 0)?;
                Value::Bool(true)
            }
            other => {
                return Err(EmbeddedRpcError::Response(JsonRpcError {
                    code: -32601,
                    message: format!("method {other} is not supported by the embedded chain"),
                    data: None,
                }));
            }
        };
        Ok(v)
    }
}

fn ratio(s: &NodeState, n: u64) -> f64 {
    s.blocks
        .get(n as usize)
        .map_or(0.0, |b| b.gas_used as f64 / s.config.block_gas_limit as f64)
}

fn block_json(s: &NodeState, n: u64, full: bool) -> Value {
    let Some(b) = s.blocks.get(n as usize) else {
        return Value::Null;
    };
    let header = |txs| Block::<Value> {
        hash: Some(block_hash(b.number)),
        parent_hash: if b.number == 0 {
            H256::zero()
        } else {
            block_hash(b.number - 1)
        },
        number: Some(U64::from(b.number)),
        timestamp: U256::from(b.timestamp),
        gas_limit: U256::from(s.config.block_gas_limit),
        gas_used: U256::from(b.gas_used),
        base_fee_per_gas: Some(U256::from(s.config.base_fee)),
        transactions: txs,
        ..Block::default()
    };
    if full {
        let txs: Vec<Value> = b
            .txs
            .iter()
            .filter_map(|h| s.txs.get(h))
            .map(|t: &Transaction| json!(t))
            .collect();
        json!(header(txs))
    } else {
        let txs: Vec<Value> = b.txs.iter().map(|h: &TxHash| json!(h)).collect();
        json!(header(txs))
    }
}

fn filter_logs(s: &NodeState, f: &Filter) -> Vec<Log> {
    let latest = s.head().number;
    let (from, to) = match &f.block_option {
        ethers::types::FilterBlockOption::Range {
            from_block,
            to_block,
        } => {
            let resolve = |b: &Option<BlockNumber>, default: u64| match b {
                Some(BlockNumber::Number(n)) => n.as_u64(),
                Some(BlockNumber::Earliest) => 0,
                Some(_) => latest,
                None => default,
            };
            (resolve(from_block, latest), resolve(to_block, latest))
        }
        ethers::types::FilterBlockOption::AtBlockHash(h) => {
            let n = (0..=latest)
                .find(|n| block_hash(*n) == *h)
                .unwrap_or(u64::MAX);
            (n, n)
        }
    };
    s.logs
        .iter()
        .filter(|l| {
            let n = l.block_number.map_or(0, |n| n.as_u64());
            n >= from && n <= to
        })
        .filter(|l| match &f.address {
            None => true,
            Some(ethers::types::ValueOrArray::Value(a)) => l.address == *a,
            Some(ethers::types::ValueOrArray::Array(v)) => v.contains(&l.address),
        })
        .filter(|l| {
            f.topics.iter().enumerate().all(|(i, t)| match t {
                None => true,
                Some(ethers::types::ValueOrArray::Value(None)) => true,
                Some(ethers::types::ValueOrArray::Value(Some(h))) => l.topics.get(i) == Some(h),
                Some(ethers::types::ValueOrArray::Array(v)) => v
                    .iter()
                    .any(|o| o.is_none_or(|h| l.topics.get(i) == Some(&h))),
            })
        })
        .cloned()
        .collect()
}
