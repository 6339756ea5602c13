#!/usr/bin/env bash
# The test command (README: `bash scripts/test.sh`): installs what the tests need on a Debian or
# Ubuntu machine that lacks it, then runs `cargo test` with any arguments given.
#   - Mesa's lavapipe (software Vulkan): the wgpu tests run on it when there is no GPU;
#   - ffmpeg's ffprobe: the video tests check our MP4/GIF files with an independent decoder;
#   - a C++ compiler: OpenH264 (MP4 export) is built from source;
#   - Fashion-MNIST (dataset-fashion-mnist): real held-out images for the projection test.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="$HOME/.cargo/bin:$PATH"
# winit/wgpu probe XDG_RUNTIME_DIR; give them a private one where the session has none.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/xdg-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

need_pkgs=()
if command -v dpkg >/dev/null 2>&1; then
    dpkg -s mesa-vulkan-drivers >/dev/null 2>&1 || need_pkgs+=(mesa-vulkan-drivers)
    dpkg -s libvulkan1 >/dev/null 2>&1 || need_pkgs+=(libvulkan1)
    # Held-out real images for the projection test (Fashion-MNIST's test split).
    dpkg -s dataset-fashion-mnist >/dev/null 2>&1 || need_pkgs+=(dataset-fashion-mnist)
fi
command -v ffprobe >/dev/null 2>&1 || need_pkgs+=(ffmpeg)
command -v c++ >/dev/null 2>&1 || need_pkgs+=(g++)
if [ "${#need_pkgs[@]}" -gt 0 ]; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "error: the tests need ${need_pkgs[*]} (Vulkan driver/loader, ffprobe, a C++ compiler);" \
             "install them with your package manager" >&2
        exit 1
    fi
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "installing ${need_pkgs[*]} (needed by the tests) ..." >&2
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need_pkgs[@]}"
fi

if ! command -v cargo >/dev/null 2>&1; then
    echo "error: cargo is not installed (the project needs Rust 1.95 or newer: https://rustup.rs)" >&2
    exit 1
fi
if [ ! -d ../shared/fixtures/stylenat-small ]; then
    echo "error: ../shared/fixtures is missing; the parity tests need it beside the repository" >&2
    exit 1
fi

# wgpu devices get WebGPU's guaranteed limits, not lavapipe's generous ones (README, Backends).
export STYLENAT_WGPU_LIMITS="${STYLENAT_WGPU_LIMITS:-webgpu}"

exec cargo test "$@"
