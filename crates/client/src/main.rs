//! `confab`: a headless Confab client for scripts, bots and support, on the same core as the
//! desktop app. See `confab --help` for commands and exit codes.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
