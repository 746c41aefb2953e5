//! What every binary shares: logs, configuration files, and one-line errors.
//!
//! Configuration comes from three places, the first that sets an option winning: the
//! command line, the environment (`LIVEPEER_` and the option's name in capitals, `-` as
//! `_`), and a TOML file given with `--config FILE` (or `LIVEPEER_CONFIG`) whose keys are the
//! long option names, e.g. `orchestrators = 4` or `profiles = "720p,360p"`.

use std::ffi::OsString;
use std::path::Path;

use anyhow::{Context as _, bail};
use tracing_subscriber::EnvFilter;

/// Logs to standard error: `RUST_LOG` if set, else `warn` (`-v`: `info`, `-vv`: `debug`)
/// for everything and one level more for our crates.
pub fn init_tracing(verbosity: u8) {
    let filter = std::env::var("RUST_LOG").map_or_else(
        |_| {
            let (all, ours) = match verbosity {
                0 => ("warn", "warn"),
                1 => ("warn", "info"),
                2 => ("info", "debug"),
                _ => ("debug", "trace"),
            };
            EnvFilter::new(format!(
                "{all},livepeer_core={ours},livepeer_pm={ours},livepeer_negotiate={ours},\
                 livepeer_transcode={ours},livepeer_verify={ours},livepeer_contracts={ours},\
                 livepeer_examples={ours},devnet={ours},broadcaster={ours},\
                 orchestrator={ours},transcoder={ours},verifier={ours}"
            ))
        },
        EnvFilter::new,
    );
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The environment variable that sets option `name`.
pub fn env_name(name: &str) -> String {
    format!("LIVEPEER_{}", name.replace('-', "_").to_ascii_uppercase())
}

/// The command line with the options of the configuration file added where neither the
/// command line nor the environment sets them.
pub fn args_with_config() -> anyhow::Result<Vec<OsString>> {
    let args: Vec<OsString> = std::env::args_os().collect();
    let mut path = None;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        let s = a.to_string_lossy();
        if s == "--config" {
            path = it.next().cloned();
        } else if let Some(p) = s.strip_prefix("--config=") {
            path = Some(OsString::from(p));
        } else if s == "--" {
            break;
        }
    }
    let path = path.or_else(|| std::env::var_os(env_name("config")));
    let Some(path) = path else {
        return Ok(args);
    };
    let extra = file_args(Path::new(&path), &args)?;
    let mut out = args;
    // After the program name and any subcommand words, before the user's own options.
    let at = out
        .iter()
        .skip(1)
        .position(|a| a.to_string_lossy().starts_with('-'))
        .map_or(out.len(), |i| i + 1);
    out.splice(at..at, extra);
    Ok(out)
}

fn file_args(path: &Path, given: &[OsString]) -> anyhow::Result<Vec<OsString>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    let table: toml::Table = text
        .parse()
        .with_context(|| format!("{} is not valid TOML", path.display()))?;
    let mut out = Vec::new();
    for (key, value) in table {
        if key == "config" {
            continue;
        }
        let flag = format!("--{key}");
        let on_line = given.iter().any(|a| {
            let a = a.to_string_lossy();
            a == flag || a.starts_with(&format!("{flag}="))
        });
        if on_line || std::env::var_os(env_name(&key)).is_some() {
            continue;
        }
        let mut push = |v: &toml::Value| -> anyhow::Result<()> {
            match v {
                toml::Value::Boolean(true) => out.push(OsString::from(&flag)),
                toml::Value::Boolean(false) => {}
                toml::Value::String(s) => {
                    out.push(OsString::from(&flag));
                    out.push(OsString::from(s));
                }
                toml::Value::Integer(i) => {
                    out.push(OsString::from(&flag));
                    out.push(OsString::from(i.to_string()));
                }
                toml::Value::Float(f) => {
                    out.push(OsString::from(&flag));
                    out.push(OsString::from(f.to_string()));
                }
                other => bail!(
                    "{}: option {key} has a {} value; use a string, number or boolean",
                    path.display(),
                    other.type_str()
                ),
            }
            Ok(())
        };
        match &value {
            toml::Value::Array(items) => {
                for v in items {
                    push(v)?;
                }
            }
            v => push(v)?,
        }
    }
    Ok(out)
}

/// Prints `error: ` and the error with its causes on one line, and exits with status 1.
pub fn exit_with(e: &anyhow::Error) -> ! {
    #[allow(clippy::print_stderr)]
    {
        eprintln!("error: {e:#}");
    }
    std::process::exit(1)
}
