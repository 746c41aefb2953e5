//! The payment half of the network end to end, on an in-process chain: contracts deployed, an
//! orchestrator staked and registered, a broadcaster funded, segments paid with real lottery
//! tickets, winners persisted in the crash-safe queue and redeemed on chain.
//!
//! Run with `cargo run -p livepeer-examples --example paid_stream`.

#![allow(clippy::print_stdout)]

use std::sync::Arc;
use std::time::Instant;

use ethers::middleware::SignerMiddleware;
use ethers::signers::{LocalWallet, Signer as _};
use livepeer_contracts::embedded::DEV_KEYS;
use livepeer_contracts::{ChainClient, DeployConfig, EmbeddedChain, OrchestratorSetup, deploy};
use livepeer_core::chain::{
    GasPriceEstimator, RegistryReader, RoundInfo, ServiceOffer, TicketBrokerReader, TicketFunding,
};
use livepeer_core::entropy::OsEntropy;
use livepeer_core::{
    AddressExt, LocalSigner, MemStore, PixelPrice, Pixels, Region, ServiceId, StreamId, U256, Wei,
};
use livepeer_pm::monitor::fetch_funds;
use livepeer_pm::queue::{QueueChain, drive};
use livepeer_pm::{
    ExpirationParams, IssueContext, QueueConfig, Recipient, RecipientConfig, RecipientSecret,
    RedemptionQueue, Sender, SenderConfig, SenderMonitor,
};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let chain = EmbeddedChain::with_dev_accounts();
    let id = chain.chain_id();
    let mw = |k: usize| -> anyhow::Result<_> {
        let w = DEV_KEYS[k].parse::<LocalWallet>()?.with_chain_id(id);
        Ok(Arc::new(SignerMiddleware::new(chain.provider(), w)))
    };
    let addrs = deploy(mw(0)?, &DeployConfig::default()).await?;
    let deployer = ChainClient::connect(mw(0)?, addrs, id).await?;
    let orch = ChainClient::connect(mw(1)?, addrs, id).await?;
    let bcast = ChainClient::connect(mw(2)?, addrs, id).await?;
    println!(
        "contracts deployed; TicketBroker at {}",
        addrs.ticket_broker.checksummed()
    );

    let stake = U256::exp10(19);
    deployer.transfer_stake_token(orch.account(), stake).await?;
    let offer = ServiceOffer {
        id: ServiceId::cpu_transcoding(),
        verifier: addrs.trusted_verifier,
    };
    orch.join_as_orchestrator(&OrchestratorSetup {
        stake,
        reward_cut_ppm: 100_000,
        fee_share_ppm: 500_000,
        uri: "quic://127.0.0.1:8935",
        offers: &[offer],
        regions: &[Region::global()],
    })
    .await?;
    let eth = Wei(U256::exp10(18));
    bcast.fund_deposit_and_reserve(eth, eth).await?;
    let round = orch.advance_round().await?;
    let listed = bcast.orchestrators().await?;
    println!(
        "round {round}: {} orchestrator(s) listed, active: {}",
        listed.len(),
        listed[0].active
    );

    // The orchestrator quotes ticket params bound to this round; face value 4x the EV, so
    // about one ticket in four wins.
    let mut rc = RecipientConfig::default();
    rc.ticket_ev = Wei(U256::exp10(15));
    rc.redeem_gas = 250_000;
    rc.tx_cost_multiplier = 16;
    // Params expire well inside the tickets' on-chain validity (two 20-block rounds).
    rc.params_validity_blocks = 8;
    let mut recipient = Recipient::new(orch.account(), RecipientSecret::random(&OsEntropy)?, rc);
    let mut monitor = SenderMonitor::new();
    let block = orch.current_block().await?;
    let funds = fetch_funds(&orch, bcast.account(), orch.account(), block).await?;
    monitor.handle_round(round);
    monitor.handle_funds(bcast.account(), funds.clone());
    let expiration = ExpirationParams::new(round, orch.block_hash_for_round(round).await?);
    let max_float = monitor.max_float(bcast.account()).unwrap_or_default();
    let ctx = IssueContext::new(block, orch.gas_price().await?, expiration, max_float);
    let price = PixelPrice::per_pixel(1);
    let params = recipient.issue_params(bcast.account(), price, &ctx, &OsEntropy)?;

    // The broadcaster pays 20 segments; every winner is persisted before the segment is done.
    let mut sc = SenderConfig::default();
    sc.max_ev = Wei(U256::exp10(16));
    sc.max_total_ev = Wei(U256::exp10(18));
    let mut sender = Sender::new(LocalSigner::from_hex(DEV_KEYS[2])?, sc);
    let session = sender.start_session(orch.account(), params, &funds.info, block)?;
    let stream = StreamId::from_name("paid-stream");
    let mut queue = RedemptionQueue::open(MemStore::new(), orch.account(), QueueConfig::default())?;
    let (mut tickets, mut won) = (0usize, Vec::new());
    for _ in 0..20 {
        let info = bcast.sender_info(bcast.account()).await?;
        let pay = sender.pay(
            &session,
            stream,
            Pixels(1_000_000_000_000_000),
            &info,
            block,
        )?;
        tickets += pay.batch.tickets.len();
        let got = recipient.receive(Instant::now(), block, &pay.batch, stream, &monitor);
        if let Err(e) = got.result() {
            anyhow::bail!("the orchestrator refused the payment: {e}");
        }
        queue.add_winners(block, &got.winners)?;
        won.extend(got.winners);
    }
    println!("20 segments paid with {tickets} tickets; {} won", won.len());

    // Redemption waits for the params to expire, then redeems the winners in one batch.
    let chain_view = QueueChain::from_backend(&orch);
    for _ in 0..60 {
        drive(&mut queue, &chain_view).await?;
        if queue.pending_by_sender().values().all(Wei::is_zero) {
            break;
        }
        orch.mine(1).await?;
    }
    let mut redeemed = 0;
    for w in &won {
        if orch.is_ticket_used(&w.ticket).await? {
            redeemed += 1;
        }
    }
    let after = bcast.sender_info(bcast.account()).await?;
    let paid = (eth.0 + eth.0) - (after.deposit.0 + after.reserve_remaining.0);
    println!(
        "{redeemed}/{} winners redeemed on chain; broadcaster paid {paid} wei",
        won.len()
    );
    anyhow::ensure!(redeemed == won.len(), "every winner is redeemed");
    Ok(())
}
