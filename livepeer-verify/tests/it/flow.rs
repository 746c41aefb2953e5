//! From a tampered rendition to a slash on the embedded chain: the broadcaster's verifier
//! finds the fault, reports it to negotiation at once, records it, serves the evidence and
//! challenges; the verifier node re-checks the evidence and votes; the orchestrator loses
//! stake and the broadcaster is paid. Honest results and missing evidence never slash.

use std::sync::Arc;

use ethers::middleware::SignerMiddleware;
use ethers::providers::Provider;
use ethers::signers::{LocalWallet, Signer as _};
use livepeer_contracts::embedded::DEV_KEYS;
use livepeer_contracts::{
    Addresses, ChainClient, DeployConfig, EmbeddedChain, OrchestratorSetup, deploy,
};
use livepeer_core::chain::{
    ChallengeId, ChallengeState, FaultChallenger, ServiceOffer, StakingReader,
};
use livepeer_core::test_utils::TestEntropy;
use livepeer_core::verify::{FaultKind, FaultReport, SegmentVerifier, Verdict};
use livepeer_core::{Ladder, LocalSigner, MemStore, Region, ServiceId, U256};
use livepeer_verify::net::{EvidenceServer, RemoteEvidence, ServerLimits};
use livepeer_verify::{
    Challenger, Checker, Decision, EvidenceStore, FaultLedger, FaultStatus, Sampler, Verifier,
    VerifierNode, VerifyConfig,
};

use crate::media::{have_ffmpeg, request_with, source, x264};

type Client = ChainClient<SignerMiddleware<Provider<EmbeddedChain>, LocalWallet>>;

async fn client(chain: &EmbeddedChain, key: usize, a: Addresses) -> Client {
    let w = DEV_KEYS[key]
        .parse::<LocalWallet>()
        .unwrap()
        .with_chain_id(chain.chain_id());
    ChainClient::connect(
        Arc::new(SignerMiddleware::new(chain.provider(), w)),
        a,
        chain.chain_id(),
    )
    .await
    .unwrap()
}

struct World {
    _chain: EmbeddedChain,
    verifier_client: Arc<Client>,
    orch: Arc<Client>,
    bcast: Arc<Client>,
    o_key: LocalSigner,
    b_key: LocalSigner,
}

async fn world() -> World {
    let chain = EmbeddedChain::with_dev_accounts();
    let w = DEV_KEYS[0]
        .parse::<LocalWallet>()
        .unwrap()
        .with_chain_id(chain.chain_id());
    let addrs = deploy(
        Arc::new(SignerMiddleware::new(chain.provider(), w)),
        &DeployConfig::default(),
    )
    .await
    .unwrap();
    let deployer = client(&chain, 0, addrs).await;
    let orch = client(&chain, 1, addrs).await;
    let bcast = client(&chain, 2, addrs).await;
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
        offers: &[offer],
        regions: &[Region::parse("eu-west").unwrap()],
    })
    .await
    .unwrap();
    orch.advance_round().await.unwrap();
    World {
        _chain: chain,
        verifier_client: Arc::new(deployer),
        orch: Arc::new(orch),
        bcast: Arc::new(bcast),
        o_key: LocalSigner::from_hex(DEV_KEYS[1]).unwrap(),
        b_key: LocalSigner::from_hex(DEV_KEYS[2]).unwrap(),
    }
}

#[tokio::test]
async fn a_proven_fault_slashes_and_pays_the_broadcaster() {
    if !have_ffmpeg() {
        return;
    }
    let w = world().await;
    let store = Arc::new(MemStore::new());
    let ledger = FaultLedger::new(store.clone());
    let evidence = EvidenceStore::new(store.clone());
    let checker = Checker::new(VerifyConfig::default());
    let challenger = Challenger::new(
        w.bcast.clone(),
        evidence.clone(),
        ledger.clone(),
        checker.clone(),
    );
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<FaultReport>();
    let verifier = Verifier::builder(
        checker.clone(),
        Sampler::new(&TestEntropy::new(5), 10).unwrap(),
    )
    .with_ledger(ledger.clone())
    .with_challenger(challenger.clone())
    .with_fault_sink(Arc::new(tx))
    .build()
    .unwrap();

    // An orchestrator returns a 240p rendition at a thirtieth of the promised bitrate.
    let src = source("testsrc2");
    let ladder: Ladder = "240p".parse().unwrap();
    let cheap = x264(&src, 426, 240, 12, None);
    let req = request_with(
        &src,
        &ladder,
        &[cheap],
        &[426 * 240 * 60],
        9,
        &w.o_key,
        &w.b_key,
        &w.bcast.signing_domain(),
    );
    let v = verifier.verify(&req).await.unwrap();
    let Verdict::Fault(report) = v else {
        panic!("{v:?}")
    };
    assert_eq!(report.kind, FaultKind::BitrateOutOfBounds);
    // Negotiation heard it at once.
    assert_eq!(rx.try_recv().unwrap(), report);

    // The ledger holds it, challenged.
    let records = ledger.faults_of(&w.orch.account()).unwrap();
    assert_eq!(records.len(), 1);
    let FaultStatus::Challenged { id, .. } = records[0].status.clone() else {
        panic!("{:?}", records[0].status)
    };
    assert!(matches!(
        w.bcast.challenge_state(id).await.unwrap(),
        ChallengeState::Open { .. }
    ));

    // The broadcaster serves its evidence over QUIC; the verifier node fetches it from there
    // (checking the server proves the challenger's address), re-checks and votes guilty.
    let server = EvidenceServer::start(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(w.b_key.clone()),
        Arc::new(evidence.clone()),
        ServerLimits::default(),
    )
    .unwrap();
    let remote = RemoteEvidence::new(
        server.local_addr().unwrap(),
        livepeer_core::Signer::address(&w.b_key),
    )
    .unwrap();
    let node = VerifierNode::new(w.verifier_client.clone(), Arc::new(remote), checker);
    let stake_before = w.orch.stake_of(w.orch.account()).await.unwrap();
    let paid_before = w
        .bcast
        .stake_token_balance(w.bcast.account())
        .await
        .unwrap();
    let (decision, _) = node.judge(id).await.unwrap();
    assert!(matches!(decision, Decision::Guilty(ref f) if f.kind == FaultKind::BitrateOutOfBounds));
    assert_eq!(
        w.bcast.challenge_state(id).await.unwrap(),
        ChallengeState::Guilty
    );
    assert!(w.orch.stake_of(w.orch.account()).await.unwrap() < stake_before);
    assert!(
        w.bcast
            .stake_token_balance(w.bcast.account())
            .await
            .unwrap()
            > paid_before
    );

    // The broadcaster follows it to the verdict; the evidence is dropped.
    let done = challenger.refresh(&records[0]).await.unwrap();
    assert_eq!(done.status, FaultStatus::Decided(ChallengeState::Guilty));
    assert_eq!(ledger.faults_of(&w.orch.account()).unwrap()[0], done);
}

#[tokio::test]
async fn honest_results_and_missing_evidence_never_slash() {
    if !have_ffmpeg() {
        return;
    }
    let w = world().await;
    let store = Arc::new(MemStore::new());
    let ledger = FaultLedger::new(store.clone());
    let evidence = EvidenceStore::new(store.clone());
    let checker = Checker::new(VerifyConfig::default());
    let challenger = Challenger::new(
        w.bcast.clone(),
        evidence.clone(),
        ledger.clone(),
        checker.clone(),
    );
    let src = source("testsrc2");
    let ladder: Ladder = "240p".parse().unwrap();
    let honest = x264(&src, 426, 240, 400, None);
    let req = request_with(
        &src,
        &ladder,
        &[honest],
        &[426 * 240 * 60],
        10,
        &w.o_key,
        &w.b_key,
        &w.bcast.signing_domain(),
    );

    // A broadcaster that tries to challenge an honest result is stopped before the chain.
    let record = livepeer_verify::FaultRecord::new(
        FaultReport {
            orchestrator: w.orch.account(),
            kind: FaultKind::PerceptualMismatch,
            rendition: Some(0),
            detail: "made up".into(),
            provable: true,
        },
        livepeer_core::chain::FaultEvidence {
            service: ServiceId::cpu_transcoding(),
            receipt: req.receipt.clone(),
            claim: req.claim.clone(),
            domain: req.domain,
        },
    );
    ledger.record(&record).unwrap();
    let job = livepeer_verify::CheckJob::from_request(&req);
    let err = challenger.challenge(&record, &job, true).await.unwrap_err();
    assert!(
        matches!(err, livepeer_verify::ChallengeError::NotConfirmed(_)),
        "{err}"
    );

    // A challenge opened without serving evidence is decided innocent.
    let bond = w.bcast.challenge_bond().await.unwrap();
    let id = w
        .bcast
        .open_challenge(&record.evidence, bond)
        .await
        .unwrap();
    let node = VerifierNode::new(w.verifier_client.clone(), Arc::new(evidence), checker);
    let stake_before = w.orch.stake_of(w.orch.account()).await.unwrap();
    let (d, _) = node.judge(id).await.unwrap();
    assert!(matches!(d, Decision::Innocent(_)), "{d:?}");
    assert_eq!(
        w.bcast.challenge_state(id).await.unwrap(),
        ChallengeState::Innocent
    );
    assert_eq!(
        w.orch.stake_of(w.orch.account()).await.unwrap(),
        stake_before
    );
    let _: ChallengeId = id;
}
