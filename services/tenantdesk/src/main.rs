//! Entry point: parse the command line, start logging (and trace export for the long-running
//! commands), run the command, then send the spans still queued.

use std::process::ExitCode;

use clap::Parser;
use tenantdesk::cli::Command;

fn main() -> ExitCode {
    let cli = tenantdesk::Cli::parse();
    let long_running = matches!(cli.command, Command::Serve(_) | Command::Worker);
    let telemetry = tenantdesk::telemetry::init(cli.log_format, long_running);
    let result = tenantdesk::run(cli);
    telemetry.shutdown();
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
