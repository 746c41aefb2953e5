//! anvil, the deployed Livepeer set, and clients per dev account.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ethers::middleware::SignerMiddleware;
use ethers::providers::{Http, Provider};
use ethers::signers::{LocalWallet, Signer as _};
use ethers::utils::{Anvil, AnvilInstance};
use livepeer_contracts_lp::LivepeerChain;
use livepeer_contracts_lp::deploy::{
    DeployConfig, Deployment, OrchestratorSetup, deploy, setup_orchestrator,
};
use livepeer_core::chain::RoundInfo;
use livepeer_core::ticket::{WinningTicket, is_winning, recipient_rand_hash};
use livepeer_core::{Address, LocalSigner, PixelPrice, Signer as _, U256};
use livepeer_pm::{ExpirationParams, RecipientSecret, TicketParams};

pub(crate) type Client = SignerMiddleware<Provider<Http>, LocalWallet>;
pub(crate) type Chain = LivepeerChain<Client>;

/// Dev accounts by role.
pub(crate) const DEPLOYER: usize = 0;
pub(crate) const ORCHESTRATOR: usize = 1;
pub(crate) const BROADCASTER: usize = 2;

/// anvil from `ANVIL_BIN`, else the contracts' npm install.
pub(crate) fn anvil_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ANVIL_BIN")
        && !p.is_empty()
    {
        return Some(p.into());
    }
    let local = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../node_modules/.bin/anvil");
    local.exists().then_some(local)
}

/// A running anvil with Livepeer deployed on it.
pub(crate) struct Net {
    /// Killed by PID on drop.
    pub(crate) anvil: AnvilInstance,
    pub(crate) provider: Provider<Http>,
    pub(crate) deployment: Deployment,
}

impl Net {
    /// Starts anvil (a free port, never 8545) and deploys; `None` (with a message) when there
    /// is no anvil.
    pub(crate) async fn start() -> Option<Net> {
        let Some(path) = anvil_path() else {
            eprintln!("SKIPPED: anvil not found (run `npm ci` in contracts/ or set ANVIL_BIN)");
            return None;
        };
        let anvil = Anvil::at(path).arg("--hardfork").arg("cancun").spawn();
        let provider = Provider::<Http>::try_from(anvil.endpoint())
            .unwrap()
            .interval(Duration::from_millis(10));
        let deployer = Arc::new(SignerMiddleware::new(
            provider.clone(),
            wallet(&anvil, DEPLOYER),
        ));
        let deployment = deploy(deployer, &DeployConfig::default()).await.unwrap();
        Some(Net {
            anvil,
            provider,
            deployment,
        })
    }

    pub(crate) fn middleware(&self, account: usize) -> Arc<Client> {
        Arc::new(SignerMiddleware::new(
            self.provider.clone(),
            wallet(&self.anvil, account),
        ))
    }

    /// `account`'s chain, connected through the Controller alone.
    pub(crate) async fn chain(&self, account: usize) -> Chain {
        LivepeerChain::connect(
            self.middleware(account),
            self.deployment.addresses.controller,
        )
        .await
        .unwrap()
    }

    pub(crate) fn signer(&self, account: usize) -> LocalSigner {
        let key: [u8; 32] = self.anvil.keys()[account].to_bytes().into();
        LocalSigner::from_bytes(&key).unwrap()
    }

    pub(crate) fn address(&self, account: usize) -> Address {
        self.anvil.addresses()[account]
    }

    /// Bonds 1000 LPT to the orchestrator account and makes it active, with `uri`.
    pub(crate) async fn orchestrator(&self, uri: &str) -> Chain {
        let funder = self.chain(DEPLOYER).await;
        let o = self.chain(ORCHESTRATOR).await;
        setup_orchestrator(&funder, &o, &OrchestratorSetup::new(U256::exp10(21), uri))
            .await
            .unwrap();
        o
    }
}

fn wallet(anvil: &AnvilInstance, account: usize) -> LocalWallet {
    LocalWallet::from(anvil.keys()[account].clone()).with_chain_id(anvil.chain_id())
}

/// A ticket from `sender` to `recipient` under livepeer-pm params bound to the chain's
/// current round, signed by the sender, that wins (winProb = 2^256 − 1).
pub(crate) async fn winning_ticket(
    chain: &Chain,
    sender: &LocalSigner,
    recipient: Address,
    nonce: u32,
    face_value: U256,
) -> WinningTicket {
    let round = chain.current_round().await.unwrap();
    let hash = chain.block_hash_for_round(round).await.unwrap();
    assert!(!hash.is_zero(), "round {round} is initialized");
    let block = chain.current_block().await.unwrap();
    let mut params = TicketParams::new(
        recipient,
        face_value,
        U256::MAX,
        Default::default(),
        livepeer_core::H256::repeat_byte(0x5e),
        block + 40,
        PixelPrice::new(U256::one(), U256::one()).unwrap(),
        ExpirationParams::new(round, hash),
    );
    let secret = RecipientSecret::from_bytes([7; 32]);
    let rand = secret.recipient_rand(&params, &sender.address());
    params.recipient_rand_hash = recipient_rand_hash(&rand);
    let ticket = params.ticket(sender.address(), nonce);
    let sig = sender.sign_message_hash(&ticket.hash()).unwrap();
    assert!(is_winning(&sig, &rand, &ticket.win_prob));
    WinningTicket {
        ticket,
        sig,
        recipient_rand: rand,
    }
}
