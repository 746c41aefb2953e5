//! One conformance suite for both chain backends: the embedded EVM and anvil over JSON-RPC
//! run the same bytecode through the same bindings and must behave the same.

use std::sync::Arc;
use std::time::Duration;

use ethers::middleware::SignerMiddleware;
use ethers::providers::{Http, JsonRpcClient, Provider};
use ethers::signers::{LocalWallet, Signer as _};
use ethers::utils::Anvil;
use livepeer_contracts::embedded::DEV_KEYS;
use livepeer_contracts::{
    Addresses, ChainClient, DeployConfig, EmbeddedChain, OrchestratorSetup, deploy,
};
use livepeer_core::chain::{
    ChallengeState, FaultChallenger, FaultEvidence, RegistryReader, RoundInfo, ServiceOffer,
    StakingReader, TicketBrokerReader, TicketFunding, TicketRedeemer, TxOptions, TxStatus,
    VerdictPoster,
};
use livepeer_core::ticket::{WinningTicket, is_winning, recipient_rand_hash};
use livepeer_core::{
    Domain, H256, Ladder, LocalSigner, Receipt, Region, SegmentClaim, ServiceId, Signer, StreamId,
    Ticket, U256, Wei,
};

pub(crate) type Client<P> = ChainClient<SignerMiddleware<Provider<P>, LocalWallet>>;

pub(crate) async fn client<P: JsonRpcClient + Clone + 'static>(
    p: &Provider<P>,
    key: usize,
    a: Addresses,
    chain_id: u64,
) -> Client<P> {
    let w = DEV_KEYS[key]
        .parse::<LocalWallet>()
        .unwrap()
        .with_chain_id(chain_id);
    ChainClient::connect(Arc::new(SignerMiddleware::new(p.clone(), w)), a, chain_id)
        .await
        .unwrap()
}

async fn mined<P: JsonRpcClient + Clone + 'static>(
    c: &Client<P>,
    tx: &livepeer_core::chain::PendingTx,
) -> bool {
    for _ in 0..200 {
        match c.tx_status(tx).await.unwrap() {
            TxStatus::Mined { success, .. } => return success,
            _ => tokio::time::sleep(Duration::from_millis(10)).await,
        }
    }
    panic!("transaction not mined");
}

fn winning_ticket(
    b: &LocalSigner,
    recipient: livepeer_core::Address,
    nonce: u32,
    round: u64,
    hash: H256,
    rand: U256,
) -> WinningTicket {
    let ticket = Ticket {
        recipient,
        sender: b.address(),
        face_value: U256::exp10(16),
        win_prob: U256::MAX,
        sender_nonce: nonce,
        recipient_rand_hash: recipient_rand_hash(&rand),
        creation_round: round,
        creation_round_block_hash: hash,
    };
    let sig = b.sign_message_hash(&ticket.hash()).unwrap();
    assert!(is_winning(&sig, &rand, &ticket.win_prob));
    WinningTicket {
        ticket,
        sig,
        recipient_rand: rand,
    }
}

async fn suite<P: JsonRpcClient + Clone + 'static>(p: Provider<P>, chain_id: u64) {
    let deployer_wallet = DEV_KEYS[0]
        .parse::<LocalWallet>()
        .unwrap()
        .with_chain_id(chain_id);
    let deployer_mw = Arc::new(SignerMiddleware::new(p.clone(), deployer_wallet));
    let addrs = deploy(deployer_mw.clone(), &DeployConfig::default())
        .await
        .unwrap();

    // The client refuses another chain id and code it was not built for.
    let wrong = ChainClient::connect(deployer_mw.clone(), addrs, chain_id + 1)
        .await
        .unwrap_err();
    assert!(
        matches!(wrong, livepeer_core::chain::ChainError::WrongChain { .. }),
        "{wrong}"
    );
    let swapped = Addresses {
        ticket_broker: addrs.stake_token,
        ..addrs
    };
    let wrong = ChainClient::connect(deployer_mw.clone(), swapped, chain_id)
        .await
        .unwrap_err();
    assert!(
        matches!(
            wrong,
            livepeer_core::chain::ChainError::UnexpectedCode { .. }
        ),
        "{wrong}"
    );

    let deployer = client(&p, 0, addrs, chain_id).await;
    let orch = client(&p, 1, addrs, chain_id).await;
    let bcast = client(&p, 2, addrs, chain_id).await;
    let b_key = LocalSigner::from_hex(DEV_KEYS[2]).unwrap();
    let o_key = LocalSigner::from_hex(DEV_KEYS[1]).unwrap();

    // An orchestrator stakes, registers and lists its services; it is active from the next round.
    let stake = U256::exp10(19);
    deployer
        .transfer_stake_token(orch.account(), stake)
        .await
        .unwrap();
    let offer = ServiceOffer {
        id: ServiceId::cpu_transcoding(),
        verifier: addrs.trusted_verifier,
    };
    orch.join_as_orchestrator(&OrchestratorSetup {
        stake,
        reward_cut_ppm: 100_000,
        fee_share_ppm: 500_000,
        uri: "quic://127.0.0.1:7000",
        offers: std::slice::from_ref(&offer),
        regions: &[Region::parse("eu-west").unwrap()],
    })
    .await
    .unwrap();
    let round = orch.advance_round().await.unwrap();
    assert!(orch.is_active(orch.account()).await.unwrap());
    let entries = bcast.orchestrators().await.unwrap();
    assert_eq!(entries.len(), 1);
    let e = &entries[0];
    assert_eq!(
        (e.address, e.active, e.stake),
        (orch.account(), true, stake)
    );
    assert_eq!(e.services, vec![offer.clone()]);
    assert!(e.serves(&Region::parse("eu-west").unwrap()));
    assert_eq!(
        bcast.orchestrator(orch.account()).await.unwrap().as_ref(),
        Some(e)
    );

    // The broadcaster funds its deposit and reserve.
    let one_eth = Wei(U256::exp10(18));
    bcast
        .fund_deposit_and_reserve(one_eth, one_eth)
        .await
        .unwrap();
    let info = orch.sender_info(bcast.account()).await.unwrap();
    assert_eq!(
        (info.deposit, info.reserve_remaining, info.withdraw_round),
        (one_eth, one_eth, 0)
    );
    // A sender that names no recipient: the reserve is split by round-start stake, and the only
    // active orchestrator holds all of it.
    assert_eq!(
        orch.claimable_reserve(bcast.account(), orch.account())
            .await
            .unwrap(),
        one_eth
    );
    assert_eq!(
        orch.claimable_reserve(bcast.account(), bcast.account())
            .await
            .unwrap(),
        Wei(U256::zero())
    );

    // One winner, then a batch of three, redeemed for real.
    let hash = orch.block_hash_for_round(round).await.unwrap();
    assert!(!hash.is_zero());
    let w1 = winning_ticket(&b_key, orch.account(), 1, round, hash, U256::from(77));
    let gas = orch
        .estimate_redeem_gas(std::slice::from_ref(&w1))
        .await
        .unwrap();
    assert!(gas > 21_000);
    let tx = orch
        .send_redeem(std::slice::from_ref(&w1), &TxOptions::default())
        .await
        .unwrap();
    assert!(mined(&orch, &tx).await);
    assert!(orch.is_ticket_used(&w1).await.unwrap());
    let after = orch.sender_info(bcast.account()).await.unwrap();
    assert_eq!(after.deposit.0, one_eth.0 - U256::exp10(16));
    // Livepeer's getSenderInfo layout decodes: the reserve is untouched by a deposit payment.
    assert_eq!(
        (after.reserve_remaining, after.reserve_claimed_this_round),
        (one_eth, Wei(U256::zero()))
    );
    assert_eq!(
        orch.claimed_reserve(bcast.account(), orch.account())
            .await
            .unwrap(),
        Wei(U256::zero())
    );

    // A ticket to an address that is not a registered orchestrator is refused by name.
    let stray = winning_ticket(&b_key, bcast.account(), 1, round, hash, U256::from(77));
    let err = orch
        .send_redeem(std::slice::from_ref(&stray), &TxOptions::default())
        .await
        .unwrap_err();
    assert!(err.is_revert("NotRegistered"), "{err:?}");
    assert!(!orch.is_ticket_used(&stray).await.unwrap());

    let reuse = orch
        .send_redeem(std::slice::from_ref(&w1), &TxOptions::default())
        .await
        .unwrap_err();
    assert!(reuse.is_revert("TicketAlreadyUsed"), "{reuse:?}");

    let batch: Vec<_> = (2..5)
        .map(|n| winning_ticket(&b_key, orch.account(), n, round, hash, U256::from(77)))
        .collect();
    let tx = orch
        .send_redeem(&batch, &TxOptions::default())
        .await
        .unwrap();
    assert!(mined(&orch, &tx).await);
    for w in &batch {
        assert!(orch.is_ticket_used(w).await.unwrap());
    }

    // A transaction at a spent nonce is refused by the node as definitely not sent.
    let fresh = winning_ticket(&b_key, orch.account(), 10, round, hash, U256::from(77));
    let stale = TxOptions {
        nonce: Some(0),
        ..TxOptions::default()
    };
    let err = orch
        .send_redeem(std::slice::from_ref(&fresh), &stale)
        .await
        .unwrap_err();
    assert!(err.is_revert("NonceTooLow"), "{err:?}");
    assert!(!orch.is_ticket_used(&fresh).await.unwrap());

    // A forged ticket is refused by name and changes nothing.
    let mut forged = winning_ticket(&b_key, orch.account(), 9, round, hash, U256::from(77));
    forged.ticket.face_value = U256::exp10(17);
    let err = orch
        .send_redeem(std::slice::from_ref(&forged), &TxOptions::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, livepeer_core::chain::ChainError::Reverted { .. }),
        "{err:?}"
    );
    assert!(!orch.is_ticket_used(&forged).await.unwrap());

    // A fault: the broadcaster challenges a receipt, the trusted verifier finds it guilty,
    // and the orchestrator is slashed.
    let ladder: Ladder = "P360p30fps16x9".parse().unwrap();
    let stream_id = StreamId::from_name("conformance");
    let domain = bcast.signing_domain();
    assert_eq!(domain, orch.signing_domain());
    let receipt = Receipt {
        orchestrator: orch.account(),
        broadcaster: bcast.account(),
        stream_id,
        seq: 3,
        input_hash: H256::repeat_byte(7),
        profile_ids: ladder.ids(),
        output_hashes: vec![H256::repeat_byte(8)],
        pixels: vec![640 * 360 * 60],
    };
    let receipt_elsewhere = receipt
        .clone()
        .sign(
            &o_key,
            &Domain::new(domain.chain_id + 1, domain.verifying_contract),
        )
        .unwrap();
    let receipt = receipt.sign(&o_key, &domain).unwrap();
    let claim = SegmentClaim {
        broadcaster: bcast.account(),
        orchestrator: orch.account(),
        stream_id,
        seq: 3,
        input_hash: H256::repeat_byte(7),
        profile_ids: ladder.ids(),
        duration_ms: 2000,
    }
    .sign(&b_key, &domain)
    .unwrap();
    let bond = bcast.challenge_bond().await.unwrap();
    // A receipt signed for another chain does not recover to its orchestrator on this one;
    // evidence that says it belongs to another deployment is not sent at all.
    let replayed = FaultEvidence {
        service: ServiceId::cpu_transcoding(),
        receipt: receipt_elsewhere,
        claim: claim.clone(),
        domain,
    };
    let err = bcast.open_challenge(&replayed, bond).await.unwrap_err();
    assert!(err.is_revert("ReceiptSignerMismatch"), "{err:?}");
    let foreign = FaultEvidence {
        domain: Domain::new(domain.chain_id + 1, domain.verifying_contract),
        ..replayed
    };
    let err = bcast.open_challenge(&foreign, bond).await.unwrap_err();
    assert!(
        matches!(err, livepeer_core::chain::ChainError::WrongDomain { .. }),
        "{err:?}"
    );
    let evidence = FaultEvidence {
        service: ServiceId::cpu_transcoding(),
        receipt,
        claim,
        domain,
    };
    let id = bcast.open_challenge(&evidence, bond).await.unwrap();
    assert!(matches!(
        bcast.challenge_state(id).await.unwrap(),
        ChallengeState::Open { .. }
    ));
    let again = bcast.open_challenge(&evidence, bond).await.unwrap_err();
    assert!(again.is_revert("ReceiptAlreadyChallenged"), "{again:?}");
    assert_eq!(deployer.challenge_evidence(id).await.unwrap(), evidence);
    let before = orch.stake_of(orch.account()).await.unwrap();
    deployer.vote(id, true).await.unwrap();
    assert_eq!(
        bcast.challenge_state(id).await.unwrap(),
        ChallengeState::Guilty
    );
    assert!(orch.stake_of(orch.account()).await.unwrap() < before);
}

#[tokio::test]
async fn embedded_backend_conforms() {
    let chain = EmbeddedChain::with_dev_accounts();
    suite(chain.provider(), chain.chain_id()).await;
}

pub(crate) fn anvil_path() -> Option<std::path::PathBuf> {
    if let Ok(p) = std::env::var("ANVIL_BIN")
        && !p.is_empty()
    {
        return Some(p.into());
    }
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../node_modules/.bin/anvil");
    local.exists().then_some(local)
}

#[tokio::test]
async fn anvil_backend_conforms() {
    let Some(path) = anvil_path() else {
        eprintln!("SKIPPED: anvil not found (run `npm ci` in contracts/ or set ANVIL_BIN)");
        return;
    };
    // A free port chosen by the harness, never 8545; the child is killed by PID on drop.
    let anvil = Anvil::at(path).arg("--hardfork").arg("cancun").spawn();
    let p = Provider::<Http>::try_from(anvil.endpoint())
        .unwrap()
        .interval(Duration::from_millis(10));
    suite(p, anvil.chain_id()).await;
}
