//! What the tests that run the binaries on anvil share: finding anvil, the binaries' paths,
//! a child process killed on drop, a free port, and a command that must succeed.

#![allow(dead_code)]

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Output};

pub(crate) const DEVNET: &str = env!("CARGO_BIN_EXE_devnet");
pub(crate) const ORCH: &str = env!("CARGO_BIN_EXE_orchestrator");
pub(crate) const BCAST: &str = env!("CARGO_BIN_EXE_broadcaster");
pub(crate) const VERIFIER: &str = env!("CARGO_BIN_EXE_verifier");
pub(crate) const TRANSCODER: &str = env!("CARGO_BIN_EXE_transcoder");

/// anvil from `ANVIL_BIN`, else the contracts' npm install; `None` where there is neither.
pub(crate) fn anvil_path() -> Option<PathBuf> {
    if let Ok(p) = std::env::var("ANVIL_BIN")
        && !p.is_empty()
    {
        return Some(p.into());
    }
    let local = Path::new(env!("CARGO_MANIFEST_DIR")).join("../contracts/node_modules/.bin/anvil");
    local.exists().then_some(local)
}

/// A UDP port free on loopback now.
pub(crate) fn free_udp_port() -> u16 {
    std::net::UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A TCP port free on the loopback now.
#[allow(dead_code)] // used by the tests built with the `livepeer` feature
pub(crate) fn free_tcp_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Asserts `o` succeeded (showing its output if not) and returns its standard output.
pub(crate) fn ok(o: &Output, what: &str) -> String {
    assert!(
        o.status.success(),
        "{what}: {}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A child process, SIGKILLed and reaped on drop.
pub(crate) struct Kill(pub(crate) Child);

impl Kill {
    /// Waits for the child and returns what it wrote to its piped stdout and stderr.
    pub(crate) fn wait_with_output_ref(&mut self) -> String {
        let _ = self.0.wait();
        let mut text = String::new();
        if let Some(mut o) = self.0.stdout.take() {
            let _ = o.read_to_string(&mut text);
        }
        if let Some(mut e) = self.0.stderr.take() {
            let _ = e.read_to_string(&mut text);
        }
        text
    }
}

impl Drop for Kill {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
