//! The embedded chain behaves as a node does for ethers: transfers, deployment, calls,
//! reverts with data, receipts, logs, manual mining and replacement.

use std::sync::Arc;

use ethers::middleware::SignerMiddleware;
use ethers::providers::{Middleware, MiddlewareError, ProviderError};
use ethers::signers::{LocalWallet, Signer};
use ethers::types::{Bytes, TransactionRequest, U256};
use livepeer_contracts::embedded::{DEV_KEYS, EmbeddedChain};

/// Runtime: with empty calldata returns the word 42; otherwise reverts with the calldata.
const RUNTIME: &str = "3615600f57366000600037366000fd5b602a60005260206000f3";
/// Init code that deploys the RUNTIME appended to it.
const INIT: &str = "601a600c600039601a6000f3";

fn wallet(i: usize, chain_id: u64) -> LocalWallet {
    DEV_KEYS[i]
        .parse::<LocalWallet>()
        .unwrap()
        .with_chain_id(chain_id)
}

fn client(
    chain: &EmbeddedChain,
    i: usize,
) -> Arc<SignerMiddleware<ethers::providers::Provider<EmbeddedChain>, LocalWallet>> {
    Arc::new(SignerMiddleware::new(
        chain.provider(),
        wallet(i, chain.chain_id()),
    ))
}

#[tokio::test]
async fn transfer_mines_a_block_with_a_receipt() {
    let chain = EmbeddedChain::with_dev_accounts();
    let c = client(&chain, 0);
    let to = wallet(1, 31337).address();
    let before = c.get_balance(to, None).await.unwrap();
    let receipt = c
        .send_transaction(TransactionRequest::pay(to, 12345u64), None)
        .await
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(receipt.status.unwrap().as_u64(), 1);
    assert_eq!(receipt.gas_used.unwrap(), U256::from(21_000));
    assert_eq!(c.get_balance(to, None).await.unwrap(), before + 12345);
    assert_eq!(c.get_block_number().await.unwrap().as_u64(), 1);
    assert_eq!(c.get_chainid().await.unwrap(), U256::from(31337));
}

#[tokio::test]
async fn deploy_call_and_revert_data() {
    let chain = EmbeddedChain::with_dev_accounts();
    let c = client(&chain, 0);
    let deploy = TransactionRequest::new().data(Bytes::from(
        hex::decode(format!("{INIT}{RUNTIME}")).unwrap(),
    ));
    let receipt = c
        .send_transaction(deploy, None)
        .await
        .unwrap()
        .await
        .unwrap()
        .unwrap();
    let addr = receipt.contract_address.expect("contract created");
    assert_eq!(
        c.get_code(addr, None).await.unwrap().to_vec(),
        hex::decode(RUNTIME).unwrap()
    );

    let out = c
        .call(&TransactionRequest::new().to(addr).into(), None)
        .await
        .unwrap();
    assert_eq!(U256::from_big_endian(&out), U256::from(42));

    let err = c
        .call(
            &TransactionRequest::new()
                .to(addr)
                .data(Bytes::from(vec![0xde, 0xad]))
                .into(),
            None,
        )
        .await
        .unwrap_err();
    let data = err
        .as_error_response()
        .and_then(|e| e.as_revert_data())
        .expect("revert data");
    assert_eq!(data.to_vec(), vec![0xde, 0xad]);

    let estimate = c
        .estimate_gas(&TransactionRequest::new().to(addr).into(), None)
        .await
        .unwrap();
    assert!(
        estimate.as_u64() >= 21_000 && estimate.as_u64() < 30_000,
        "{estimate}"
    );
}

#[tokio::test]
async fn manual_mining_keeps_pending_and_replaces_by_price() {
    let chain = EmbeddedChain::with_dev_accounts();
    chain.set_automine(false);
    let c = client(&chain, 0);
    let to = wallet(2, 31337).address();
    let nonce = c.get_transaction_count(c.address(), None).await.unwrap();
    let tx = |price: u64| {
        TransactionRequest::pay(to, 1u64)
            .nonce(nonce)
            .gas(21_000)
            .gas_price(price)
    };
    let first = *c.send_transaction(tx(1_000_000_000), None).await.unwrap();
    assert!(c.get_transaction_receipt(first).await.unwrap().is_none());
    assert!(
        c.get_transaction(first)
            .await
            .unwrap()
            .unwrap()
            .block_number
            .is_none()
    );

    // A replacement must pay at least 10% more.
    let low = c.send_transaction(tx(1_050_000_000), None).await;
    assert!(low.is_err());
    let second = *c.send_transaction(tx(2_000_000_000), None).await.unwrap();
    assert!(
        c.get_transaction(first).await.unwrap().is_none(),
        "replaced transaction is gone"
    );
    chain.mine(1);
    let r = c
        .get_transaction_receipt(second)
        .await
        .unwrap()
        .expect("mined");
    assert_eq!(r.effective_gas_price.unwrap(), U256::from(2_000_000_000u64));
    assert_eq!(chain.pending_count(), 0);
}

#[tokio::test]
async fn snapshots_restore_state() {
    let chain = EmbeddedChain::with_dev_accounts();
    let snap = chain.snapshot();
    chain.advance_blocks(5);
    assert_eq!(chain.block_number(), 5);
    chain.restore(&snap);
    assert_eq!(chain.block_number(), 0);
    let err: Result<U256, ProviderError> = chain.provider().request("eth_unknownMethod", ()).await;
    assert!(err.is_err());
}
