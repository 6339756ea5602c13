//! `stylenat`: command-line front end (see `stylenat --help`).

use std::process::ExitCode;

// The generator allocates and frees large activations every layer; mimalloc keeps those pages
// mapped instead of returning them to the OS and faulting them back in (measured: ~10% of a
// FFHQ-256 forward on glibc malloc).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's default still returns freed pages to the OS after a second, and the kernel then
/// zeroes fresh pages on every touch: measured 14–18 % of a FFHQ-256 forward and a quarter of a
/// training step. Keep them (unless the user configured it). mimalloc reads its environment
/// when the process starts, before `main`, so the option is set through its API.
fn keep_freed_memory() {
    // `mi_option_purge_delay` in mimalloc.h (v2, which `libmimalloc-sys` builds by default).
    const MI_OPTION_PURGE_DELAY: i32 = 15;
    unsafe extern "C" {
        fn mi_option_set(option: i32, value: std::ffi::c_long);
    }
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        // SAFETY: a plain setter of mimalloc, which is linked as the global allocator.
        unsafe { mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
}

/// Mesa's Vulkan device-selection layer looks for a Wayland display and, on a machine without
/// `XDG_RUNTIME_DIR` (SSH, servers, CI), prints "error: XDG_RUNTIME_DIR is invalid or not set"
/// although everything works. Where there can be no Wayland session, switch that layer off
/// (its own documented switch) unless the user configured it.
fn quiet_headless_vulkan() {
    let runtime_dir_ok =
        std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|d| std::path::Path::new(&d).is_dir());
    if !runtime_dir_ok && std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: called from the start of `main`, before any other thread exists.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    quiet_headless_vulkan();
    match stylenat::cli::run() {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {}", stylenat::cli::error_text(&e));
            ExitCode::FAILURE
        }
    }
}
