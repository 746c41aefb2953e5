//! Test helpers (feature `_test_utils`): the driver of `tests/python/sdk_net.py`, the script
//! through which Livepeer's Python SDK talks to our servers in this crate's tests and in
//! livepeer-node's.
#![allow(
    clippy::panic,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::print_stderr
)]

use std::io::Write as _;
use std::process::{Command, Stdio};

/// How the tests' failure messages say to install the SDK.
pub const SDK_INSTALL: &str =
    "pip install --ignore-requires-python --only-binary=av livepeer-gateway";

/// The script, in this crate's sources.
pub const SDK_NET_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/sdk_net.py");

/// Whether `LIVEPEER_INTEROP_SKIP_PYTHON=1` asks to skip the Python SDK tests (and says so,
/// naming `what` is skipped).
pub fn skip_python(what: &str) -> bool {
    let skip = std::env::var_os("LIVEPEER_INTEROP_SKIP_PYTHON").is_some_and(|v| v == "1");
    if skip {
        eprintln!("LIVEPEER_INTEROP_SKIP_PYTHON=1: skipping {what}");
    }
    skip
}

/// Runs the script with `input` as JSON on its standard input and returns the JSON it
/// prints. Panics, naming the install command, where Python (`PYTHON`, default `python3`)
/// or the SDK is missing, and with the script's standard error where it fails.
pub fn run_sdk(input: serde_json::Value) -> serde_json::Value {
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg(SDK_NET_SCRIPT)
        // Outside the SDK's package folder, whose `token.py` would shadow the stdlib.
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{python}` ({e}): this test needs Python 3 with Livepeer's SDK: \
                 `{SDK_INSTALL}` (or set LIVEPEER_INTEROP_SKIP_PYTHON=1 to skip it)"
            )
        });
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.to_string().as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!(
            "Livepeer's Python SDK is not installed for `{python}`: `{SDK_INSTALL}` \
             (or set LIVEPEER_INTEROP_SKIP_PYTHON=1 to skip this test)\n{stderr}"
        );
    }
    assert!(
        out.status.success(),
        "sdk_net.py failed ({}):\n{stderr}",
        out.status
    );
    serde_json::from_slice(&out.stdout).expect("the script prints JSON")
}
