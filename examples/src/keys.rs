//! Keys for the binaries: from an encrypted JSON keystore (Ethereum's V3 format, as geth,
//! clef and `cast wallet` write), a file holding the key as hex, or an environment variable.
//! No message ever contains the key.

use std::path::PathBuf;

use anyhow::{Context as _, bail};
use ethers::signers::LocalWallet;
use livepeer_core::{Address, LocalSigner, Signer as _};

/// Where a binary's key comes from; exactly one of the three must be given.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct KeyArgs {
    /// An encrypted JSON keystore file. Its password is read from --password-file, or from
    /// the LIVEPEER_PASSWORD environment variable.
    #[arg(long, env = "LIVEPEER_KEYSTORE", value_name = "FILE")]
    pub keystore: Option<PathBuf>,
    /// A file whose first line is the keystore's password.
    #[arg(long, env = "LIVEPEER_PASSWORD_FILE", value_name = "FILE")]
    pub password_file: Option<PathBuf>,
    /// A file holding the private key as 64 hex digits (keep it readable by you only).
    #[arg(long, env = "LIVEPEER_KEY_FILE", value_name = "FILE")]
    pub key_file: Option<PathBuf>,
    /// The name of an environment variable holding the private key as hex.
    #[arg(long, value_name = "VAR")]
    pub key_env: Option<String>,
}

/// A loaded key: the same secret as a livepeer-rs signer and an ethers wallet.
pub struct Key {
    /// Signs tickets, receipts and claims.
    pub signer: LocalSigner,
    /// Signs transactions (set the chain id before use).
    pub wallet: LocalWallet,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("address", &self.address())
            .finish_non_exhaustive()
    }
}

impl Key {
    /// The key's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// A key from 64 hex digits (with or without `0x`).
    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        from_hex(text, "the text")
    }

    /// A key from its 32 secret bytes.
    pub fn from_bytes(secret: &[u8; 32]) -> anyhow::Result<Self> {
        let signer = LocalSigner::from_bytes(secret)
            .map_err(|_| anyhow::anyhow!("the private key is not a valid secp256k1 key"))?;
        let wallet = LocalWallet::from_bytes(secret)
            .map_err(|_| anyhow::anyhow!("the private key is not a valid secp256k1 key"))?;
        Ok(Key { signer, wallet })
    }
}

fn from_hex(text: &str, what: &str) -> anyhow::Result<Key> {
    let t = text.trim();
    let t = t.strip_prefix("0x").unwrap_or(t);
    if t.len() != 64 || !t.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{what} does not hold a private key (expected 64 hex digits)");
    }
    let mut secret = [0u8; 32];
    hex::decode_to_slice(t, &mut secret)
        .map_err(|_| anyhow::anyhow!("{what} does not hold a private key"))?;
    let key = Key::from_bytes(&secret);
    secret.fill(0);
    key
}

impl KeyArgs {
    /// Whether any source was given.
    pub fn is_set(&self) -> bool {
        self.keystore.is_some() || self.key_file.is_some() || self.key_env.is_some()
    }

    /// Loads the key.
    pub fn load(&self) -> anyhow::Result<Key> {
        let given = [
            self.keystore.is_some(),
            self.key_file.is_some(),
            self.key_env.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if given == 0 {
            bail!("no key given: use --keystore FILE, --key-file FILE or --key-env VAR");
        }
        if given > 1 {
            bail!("give one of --keystore, --key-file and --key-env, not several");
        }
        if let Some(path) = &self.keystore {
            let password = match &self.password_file {
                Some(p) => std::fs::read_to_string(p)
                    .with_context(|| format!("reading the password file {}", p.display()))?
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_owned(),
                None => std::env::var("LIVEPEER_PASSWORD").map_err(|_| {
                    anyhow::anyhow!(
                        "the keystore needs a password: use --password-file FILE or set LIVEPEER_PASSWORD"
                    )
                })?,
            };
            if !path.is_file() {
                bail!("keystore {} not found", path.display());
            }
            let wallet = LocalWallet::decrypt_keystore(path, password).map_err(|_| {
                anyhow::anyhow!(
                    "cannot decrypt keystore {}: wrong password or not a keystore",
                    path.display()
                )
            })?;
            let mut secret: [u8; 32] = wallet.signer().to_bytes().into();
            let key = Key::from_bytes(&secret);
            secret.fill(0);
            return key;
        }
        if let Some(path) = &self.key_file {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading the key file {}", path.display()))?;
            return from_hex(&text, &format!("key file {}", path.display()));
        }
        if let Some(var) = &self.key_env {
            let text = std::env::var(var)
                .map_err(|_| anyhow::anyhow!("environment variable {var} is not set"))?;
            return from_hex(&text, &format!("environment variable {var}"));
        }
        bail!("no key given")
    }
}
