//! Runs `tests/python/sdk_schema.py` against Livepeer's Python SDK.
//!
//! The SDK checks are not optional by accident: without Python or the SDK they fail and
//! name the install command. `LIVEPEER_INTEROP_SKIP_PYTHON=1` skips them on purpose (and
//! says so on stderr); `PYTHON` picks the interpreter (default `python3`).

use std::io::Write;
use std::process::{Command, Stdio};

/// The command that installs the SDK on Python 3.11 (its metadata asks for a newer Python,
/// and PyAV must come as a wheel).
pub(crate) const INSTALL: &str =
    "pip install --ignore-requires-python --only-binary=av livepeer-gateway";

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/python/sdk_schema.py");

/// Runs the bridge in `mode` with `input` on stdin and parses its JSON output, or returns
/// `None` when the SDK checks are deliberately skipped.
pub(crate) fn run(mode: &str, input: Option<&serde_json::Value>) -> Option<serde_json::Value> {
    if std::env::var_os("LIVEPEER_INTEROP_SKIP_PYTHON").is_some_and(|v| v == "1") {
        eprintln!("LIVEPEER_INTEROP_SKIP_PYTHON=1: skipping the Python SDK check `{mode}`");
        return None;
    }
    let python = std::env::var("PYTHON").unwrap_or_else(|_| "python3".into());
    let mut child = Command::new(&python)
        .arg(SCRIPT)
        .arg(mode)
        // Run outside the SDK's package folder, whose `token.py` would shadow the stdlib.
        .current_dir(std::env::temp_dir())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| {
            panic!(
                "cannot run `{python}` ({e}): the interop checks need Python 3 with Livepeer's \
                 SDK: `{INSTALL}` (or set LIVEPEER_INTEROP_SKIP_PYTHON=1 to skip them)"
            )
        });
    if let (Some(mut stdin), Some(v)) = (child.stdin.take(), input) {
        stdin
            .write_all(v.to_string().as_bytes())
            .expect("write to the bridge");
    }
    let out = child.wait_with_output().expect("wait for the bridge");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        panic!(
            "Livepeer's Python SDK is not installed for `{python}`: `{INSTALL}` \
             (or set LIVEPEER_INTEROP_SKIP_PYTHON=1 to skip these checks)\n{stderr}"
        );
    }
    assert!(
        out.status.success(),
        "sdk_schema.py {mode} failed ({}):\n{stderr}",
        out.status
    );
    Some(serde_json::from_slice(&out.stdout).expect("the bridge prints JSON"))
}
