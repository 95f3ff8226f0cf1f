#!/usr/bin/env bash
# Pack-and-import test: builds the three packages, `pnpm pack`s them, installs the tarballs with npm
# into a fresh project under /tmp (no workspace links), and there: (1) plain `node` imports
# @lad/tensor and @lad/nn and trains a tiny model (train.mjs asserts the loss goes down);
# (2) `tsc --noEmit` type-checks consumer.ts against the published declarations (as a Node project
# and as a bundler project without Node types); (3) the installed `lad` bin runs (--help, and a
# 2-step training run with a prefetch worker from dist/).
# Catches a missing file, a wrong `exports` map or a dev-only import before a user does.
# Needs the npm registry (the packages' own dependencies). KEEP=1 keeps the scratch folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pnpm() { npx --yes pnpm@10.34.9 "$@"; }
scratch="$(mktemp -d /tmp/lad-pack.XXXXXX)"
if [ "${KEEP:-}" = 1 ]; then echo "scratch: $scratch"; else trap 'rm -rf "$scratch"' EXIT; fi

cd "$root"
pnpm build
pnpm -r --filter './packages/*' pack --pack-destination "$scratch" >/dev/null

app="$scratch/app"
mkdir "$app"
cp test/pack/train.mjs test/pack/consumer.ts test/pack/tsconfig.json test/pack/tsconfig.bundler.json "$app/"
echo '{ "name": "lad-pack-consumer", "private": true, "type": "module" }' > "$app/package.json"
ts="$(node -p "require('./node_modules/typescript/package.json').version")"
types_node="$(node -p "require('./node_modules/@types/node/package.json').version")"
cd "$app"
npm install --no-audit --no-fund --loglevel=error \
  "$scratch"/lad-tensor-*.tgz "$scratch"/lad-nn-*.tgz "$scratch"/lad-lad-*.tgz \
  "typescript@$ts" "@types/node@$types_node"
if [ -L node_modules/@lad/tensor ]; then echo "pack test: @lad/tensor is a link, not the tarball" >&2; exit 1; fi

echo '--- (1) plain node imports @lad/tensor and @lad/nn and trains'
node train.mjs
echo '--- (2) tsc --noEmit against the published declarations'
npx tsc -p tsconfig.json          # Node: NodeNext, @types/node
npx tsc -p tsconfig.bundler.json  # a bundler app: Bundler resolution, DOM, no Node types
echo 'ok: consumer.ts type-checks (NodeNext with Node types; Bundler without)'
echo '--- (3) the installed lad bin'
npx lad --help | head -3
npx lad --help | grep -q '^usage: lad <command>'
npx lad train --dataset textured-blobs --train-samples 8 --val-samples 4 --iterations 2 --batch-size 2 --eval-every 2 --prefetch --out "$scratch/run" --quiet
test -n "$(ls "$scratch/run")"
echo 'ok: pack-and-import test passed'
