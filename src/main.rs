//! `stylenat`: command-line front end (see `stylenat --help`).

use std::process::ExitCode;

fn main() -> ExitCode {
    match stylenat::cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
