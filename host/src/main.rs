//! `mote`: the command-line front end. Each subcommand lives in `cmd/`.
use clap::Parser;

mod cmd;

fn main() -> anyhow::Result<()> {
    cmd::Cli::parse().run()
}
