//! The `techkraft-tickets` binary: the command line (`src/cli`) decides what to run.

fn main() -> std::process::ExitCode {
    techkraft_tickets::cli::run(std::env::args_os().skip(1))
}
