//! `stylenat`: command-line front end (see `stylenat --help`).

use std::process::ExitCode;

// The generator allocates and frees large activations every layer; mimalloc keeps those pages
// mapped instead of returning them to the OS and faulting them back in (measured: ~10% of a
// FFHQ-256 forward on glibc malloc).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    match stylenat::cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
