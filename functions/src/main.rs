//! The `shopsense` binary: tracing, the command line, and the library does the rest.

use std::io::IsTerminal;

use clap::Parser;
use tracing_subscriber::EnvFilter;

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("{}", error_report(&error));
            std::process::ExitCode::FAILURE
        }
    }
}

/// `Error: <message>`, then each cause the message does not already say: most of our errors
/// name their cause in their own message (`file: No such file or directory`), and anyhow's
/// report would print it again under `Caused by:`.
fn error_report(error: &anyhow::Error) -> String {
    let mut said = error.to_string();
    let mut report = format!("Error: {said}");
    let causes: Vec<String> = error.chain().skip(1).map(ToString::to_string).collect();
    let new: Vec<&String> = causes
        .iter()
        .filter(|cause| {
            let fresh = !said.contains(cause.as_str());
            said.push_str(cause);
            fresh
        })
        .collect();
    if !new.is_empty() {
        report.push_str("\n\nCaused by:");
        for cause in new {
            report.push_str(&format!("\n    {cause}"));
        }
    }
    report
}

fn run() -> anyhow::Result<()> {
    keep_cosmos_sdk_off_the_vm_metadata_service();
    // Logs go to stderr (the Functions host collects it); stdout stays for `--json` output.
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let cli = shopsense_functions::cli::Cli::parse();
    if !cli.serves() {
        end_quietly_on_a_closed_pipe();
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let result = runtime.block_on(shopsense_functions::cli::run(cli));
    // A command stopped by a signal leaves its CPU work (a model fit) running on a blocking
    // thread: do not wait for it.
    runtime.shutdown_timeout(std::time::Duration::from_secs(1));
    result
}

/// The Cosmos DB SDK asks the Azure VM metadata service (169.254.169.254) for a machine id when
/// its first client is built, unless `COSMOS_DISABLE_IMDS` is set. Outside Azure that is a
/// pointless, possibly slow request off the machine, so we set the switch there. The Functions
/// host sets `WEBSITE_INSTANCE_ID` on every Azure instance.
fn keep_cosmos_sdk_off_the_vm_metadata_service() {
    let in_azure = std::env::var_os("WEBSITE_INSTANCE_ID").is_some();
    if !in_azure && std::env::var_os("COSMOS_DISABLE_IMDS").is_none() {
        // SAFETY: called first thing in `main`, before the runtime or any other thread exists,
        // so no other thread can read the environment concurrently.
        #[allow(unsafe_code)]
        unsafe {
            std::env::set_var("COSMOS_DISABLE_IMDS", "1");
        }
    }
}

/// Rust ignores SIGPIPE, so a command whose output is cut short (`shopsense eval forecast ... |
/// head`) panicked writing to the closed pipe. A one-shot command gets the default back and ends
/// as other command-line tools do. Servers keep ignoring it: a client hanging up must cost one
/// connection, not the process.
fn end_quietly_on_a_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: called in `main` before the runtime or any other thread exists; restoring a
    // signal's default disposition has no other effect on this process.
    #[allow(unsafe_code)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_the_message_already_says_is_not_said_again() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "No such file or directory");
        #[derive(Debug, thiserror::Error)]
        #[error("inventory.csv: {source}")]
        struct Read {
            source: std::io::Error,
        }
        let said_twice = anyhow::Error::new(Read { source: io });
        assert_eq!(error_report(&said_twice), "Error: inventory.csv: No such file or directory");
        let new_cause =
            anyhow::Error::new(std::io::Error::other("disk full")).context("cannot write out.csv");
        assert_eq!(error_report(&new_cause), "Error: cannot write out.csv\n\nCaused by:\n    disk full");
    }
}
