#!/usr/bin/env bash
# The prepared GPU check (issue 4) for a machine with an NVIDIA GPU and a Vulkan driver, where Node
# may be missing and nothing can be downloaded: conformance on the GPU, matmul and conv2d GFLOP/s
# and a training step against our CPU backend (bench/gpu.ts), one summary, under 5 minutes.
#
#   here:   bench/gpu-check.sh --prepare [--with-node]
#           bundles bench/gpu.ts, Dawn's Node bindings (npm webgpu@0.4.0, linux-x64 only), the
#           conformance cases and optionally this machine's Node (xz) into bench/out/gpu-check/
#           (gitignored; carry it to the GPU machine)
#   there:  bench/gpu-check.sh            (MODE=webgpu by default; MODE=auto falls back to webasm)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=bench/out/gpu-check

if [ "${1:-}" = "--prepare" ]; then
  rm -rf "$OUT" && mkdir -p "$OUT/cases"
  npx tsx bench/gpu-bundle.ts "$OUT/gpu.mjs"
  (cd "$OUT" && npm pack webgpu@0.4.0 --silent >/dev/null && tar xzf webgpu-0.4.0.tgz package/dist/linux-x64.dawn.node \
    && mv package/dist/linux-x64.dawn.node . && rm -rf package webgpu-0.4.0.tgz)
  cp test/conformance/torch/*.json "$OUT/cases/"
  if [ "${2:-}" = "--with-node" ]; then xz -T2 -6 -c "$(command -v node)" > "$OUT/node.xz"; fi
  du -sh "$OUT"
  exit 0
fi

[ -f "$OUT/gpu.mjs" ] || { echo "gpu-check: $OUT is missing: run bench/gpu-check.sh --prepare first (and carry it here)"; exit 2; }
NODE=$(command -v node || true)
if [ -z "$NODE" ]; then
  [ -f "$OUT/node.xz" ] || { echo "gpu-check: no node here and no $OUT/node.xz (prepare with --with-node)"; exit 2; }
  xz -dc "$OUT/node.xz" > /tmp/gpu-check-node && chmod +x /tmp/gpu-check-node && NODE=/tmp/gpu-check-node
fi
if command -v nvidia-smi >/dev/null; then nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader; else echo "gpu-check: no nvidia-smi"; fi
echo "node $("$NODE" --version)"
timeout 290 "$NODE" "$OUT/gpu.mjs" --mode "${MODE:-webgpu}" --dawn "$OUT/linux-x64.dawn.node" --cases "$OUT/cases"
