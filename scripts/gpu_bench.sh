#!/usr/bin/env bash
# The GPU measurements in one command, for a machine with a real GPU (run from the repository
# root, with ../shared beside it for the fixture):
#   bash scripts/gpu_bench.sh [OUT_DIR]
# Builds a release binary, then times on wgpu: the whole generator, NA per stage, and edit
# latency (preview / refine / full), for the FFHQ-256 architecture and the fixture checkpoint.
# Every result is printed and written as JSON to OUT_DIR (default: gpu-bench/).
set -euo pipefail
OUT=${1:-gpu-bench}
FIXTURE=../shared/fixtures/stylenat-small/checkpoint.pt
mkdir -p "$OUT"
cargo build --release --locked
BIN=target/release/stylenat
"$BIN" info "$FIXTURE" >/dev/null # fails early if the fixture is missing
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>/dev/null | tee "$OUT/gpu.txt" || true
run() { # name, then bench arguments
  local name=$1; shift
  echo "== $name: stylenat bench $*"
  "$BIN" bench "$@" --backend wgpu --json "$OUT/$name.json" --force
}
for model in "--preset ffhq256" "--ckpt $FIXTURE"; do
  tag=$([[ $model == *ffhq256* ]] && echo ffhq256 || echo fixture)
  # shellcheck disable=SC2086 # $model is two words on purpose
  run "$tag-whole" $model --runs 10
  # shellcheck disable=SC2086
  run "$tag-batch8" $model --runs 5 --batch 8
  # shellcheck disable=SC2086
  run "$tag-na" $model --na --runs 10
  # shellcheck disable=SC2086
  run "$tag-edit" $model --edit-latency --runs 5
done
echo "results in $OUT/"
