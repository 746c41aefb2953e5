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
                 livepeer_node={ours},livepeer_bitstream={ours},\
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

/// The options every binary takes.
#[derive(Clone, Debug, Default, clap::Args)]
pub struct CommonArgs {
    /// A TOML file of options (keys are the long option names, e.g. `orchestrators = 4`).
    /// Command-line options and LIVEPEER_* variables override it.
    #[arg(long, global = true, env = "LIVEPEER_CONFIG", value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,
    /// More logs (-v, -vv); RUST_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
}

/// A binary's `main`: reads the options (configuration file included), starts the logs and
/// a runtime, runs `f`, and on error prints one line and exits with status 1.
pub fn run_main<A, F, Fut>(common: fn(&A) -> &CommonArgs, f: F)
where
    A: clap::Parser,
    F: FnOnce(A) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    quiet_on_closed_stdout();
    let argv = args_with_config().unwrap_or_else(|e| exit_with(&e));
    let args = A::parse_from(argv);
    init_tracing(common(&args).verbose);
    let rt = tokio::runtime::Runtime::new().unwrap_or_else(|e| exit_with(&e.into()));
    if let Err(e) = rt.block_on(f(args)) {
        exit_with(&e);
    }
}

/// Ends the process quietly, with status 0, when standard output is a pipe its reader has
/// closed (`orchestrator status | grep -q active`): printing there is pointless, not a bug.
/// Any other panic reaches the default hook unchanged.
fn quiet_on_closed_stdout() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(0);
        }
        default(info);
    }));
}

/// A progress bar (on standard error, hidden when it is not a terminal) that follows a
/// stream.
#[derive(Debug, Clone)]
pub struct BarProgress(pub indicatif::ProgressBar);

impl BarProgress {
    /// A spinner ticking on its own, or a hidden bar when `quiet`.
    pub fn new(quiet: bool) -> Self {
        if quiet {
            return BarProgress(indicatif::ProgressBar::hidden());
        }
        let b = indicatif::ProgressBar::new_spinner();
        b.enable_steady_tick(std::time::Duration::from_millis(200));
        BarProgress(b)
    }
}

impl livepeer_node::Progress for BarProgress {
    fn stage(&self, what: &str) {
        self.0.set_message(what.to_owned());
    }
    fn total(&self, segments: Option<u64>) {
        if let Some(n) = segments {
            self.0.set_length(n);
            self.0.set_style(
                indicatif::ProgressStyle::with_template(
                    "{spinner} [{elapsed}] {bar:30} {pos}/{len} {msg}",
                )
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
        }
    }
    fn segment(
        &self,
        seq: u64,
        orchestrator: livepeer_core::Address,
        latency: std::time::Duration,
    ) {
        use livepeer_core::AddressExt as _;
        self.0.inc(1);
        self.0.set_message(format!(
            "segment {seq} by {} in {} ms",
            orchestrator.checksummed(),
            latency.as_millis()
        ));
    }
    fn fault(&self, report: &livepeer_core::verify::FaultReport) {
        use livepeer_core::AddressExt as _;
        self.0.println(format!(
            "fault: {:?} by {}; challenging on chain",
            report.kind,
            report.orchestrator.checksummed()
        ));
    }
}
