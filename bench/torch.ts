// The PyTorch column of `pnpm bench`: writes the shared inputs and weights to bench/out/torch/ (safetensors,
// via @lad/nn's writer, plus manifest.json), then runs bench/torch_bench.py with /usr/bin/python3 (or python3)
// for 2 and 1 threads. When no python3 with torch is found it says how to get one and the column is skipped.
// PyTorch is not a dependency of this workspace and never runs in CI.

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { saveSafetensors, type StateDict } from '@lad/nn';

export const TORCH_DIR = fileURLToPath(new URL('./out/torch/', import.meta.url));
const SCRIPT = fileURLToPath(new URL('./torch_bench.py', import.meta.url));
export const TORCH_THREADS = [2, 1] as const;

export interface TorchRow {
  ms: number;
  minMs: number;
  runs: number;
  cold: boolean;
  gflops?: number;
  loss0?: number;
  loss1?: number;
}
export interface TorchResult {
  version: string;
  threads: Record<string, Record<string, TorchRow>>;
}

/** Writes one safetensors file of the exchange folder. */
export function exportTensors(file: string, tensors: StateDict): void {
  mkdirSync(TORCH_DIR, { recursive: true });
  saveSafetensors(TORCH_DIR + file, tensors);
}

export function writeManifest(manifest: Record<string, unknown>): void {
  mkdirSync(TORCH_DIR, { recursive: true });
  writeFileSync(TORCH_DIR + 'manifest.json', JSON.stringify(manifest, null, 2) + '\n');
}

/** The first python3 on this machine that imports torch, or null with the reason. */
export function findTorchPython(): { python: string; version: string } | { python: null; why: string } {
  for (const python of ['/usr/bin/python3', 'python3']) {
    if (python.startsWith('/') && !existsSync(python)) continue;
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return { python: null, why: 'no python3 with torch found: `apt-get install python3-torch` (Debian/Ubuntu) or `pip install torch` adds the PyTorch column' };
}

/** Runs the PyTorch rows on the exported inputs; null (and a printed reason) when it cannot. */
export function runTorch(python: string): TorchResult | null {
  const r = spawnSync(python, [SCRIPT, TORCH_DIR, ...TORCH_THREADS.map(String)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) {
    console.log(`WARNING: bench/torch_bench.py failed (exit ${r.status}); the PyTorch column is skipped.`);
    return null;
  }
  return JSON.parse(r.stdout) as TorchResult;
}
