// `--device cpu|gpu`, `--gpu-mode` and `--dawn` for the run commands (train, train-teacher, distill,
// eval, experiment): parsing (UsageErrors that say what to change), and `withDevice`, which starts
// @lad/tensor's GPU backend once for the command, hands the device down, and disposes of it at the
// end. When no gpu.js mode can start, the error lists every mode tried and why, and what to do.

import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { type Device, DeviceError, type GpuMode, type InitOptions, disposeBackend, initBackend } from '@lad/tensor';
import { UsageError, type CliIO, type FlagSpec, type Parsed } from './args.ts';

export type GpuModeFlag = 'auto' | GpuMode;
const GPU_MODE_FLAGS: readonly GpuModeFlag[] = ['auto', 'webgpu', 'webgl2', 'webasm', 'cpu'];

/** The device flags every run command takes. */
export const DEVICE_FLAGS: FlagSpec = {
  device: { type: 'string', value: 'cpu|gpu', help: "where to train and evaluate: cpu (default) or gpu (@lad/tensor's gpu.js backend; see --gpu-mode)" },
  'gpu-mode': {
    type: 'string',
    value: 'MODE',
    help: 'with --device gpu: auto (default: the first of webgpu, webgl2, webasm, cpu that starts), webgpu, webgl2, webasm (gpu.js kernels as WebAssembly on the CPU) or cpu (gpu.js kernels as plain JS, for checks)',
  },
  dawn: {
    type: 'string',
    value: 'FILE',
    help: "with --device gpu in Node: Dawn's WebGPU bindings for webgpu mode (e.g. linux-x64.dawn.node of npm webgpu@0.4.0); default: the npm package webgpu when it is installed",
  },
};

export interface DeviceChoice {
  device: Device;
  mode: GpuModeFlag;
  /** Path of Dawn's Node bindings (webgpu mode in Node). */
  dawn?: string;
}

/** Reads --device, --gpu-mode and --dawn, or throws a UsageError saying what to change. */
export function parseDevice(cmd: string, flags: Parsed['flags']): DeviceChoice {
  const d = flags.device ?? 'cpu';
  if (d !== 'cpu' && d !== 'gpu') throw new UsageError(`${cmd}: --device must be cpu or gpu: got '${String(d)}'.`);
  const mode = (flags['gpu-mode'] ?? 'auto') as GpuModeFlag;
  if (!GPU_MODE_FLAGS.includes(mode)) throw new UsageError(`${cmd}: --gpu-mode must be one of ${GPU_MODE_FLAGS.join(', ')}: got '${String(mode)}'.`);
  if (d === 'cpu' && flags['gpu-mode'] !== undefined) throw new UsageError(`${cmd}: --gpu-mode ${mode} needs --device gpu (the default device is cpu).`);
  const dawn = flags.dawn;
  if (dawn !== undefined) {
    if (d === 'cpu') throw new UsageError(`${cmd}: --dawn needs --device gpu (and --gpu-mode webgpu or auto).`);
    if (typeof dawn !== 'string' || dawn === '') throw new UsageError(`${cmd}: --dawn needs the path of Dawn's bindings (linux-x64.dawn.node).`);
    if (!existsSync(resolve(dawn))) throw new UsageError(`${cmd}: --dawn ${dawn}: file not found.`);
    if (mode !== 'auto' && mode !== 'webgpu') throw new UsageError(`${cmd}: --dawn is for --gpu-mode webgpu or auto: got --gpu-mode ${mode}.`);
  }
  return { device: d, mode, ...(typeof dawn === 'string' ? { dawn } : {}) };
}

/** Dawn's bindings for webgpu mode from --dawn FILE; without it, initBackend finds the npm package `webgpu` when it is installed. */
function loadDawn(cmd: string, choice: DeviceChoice): InitOptions['webgpu'] {
  if (!choice.dawn) return undefined;
  try {
    return createRequire(import.meta.url)(resolve(choice.dawn)) as InitOptions['webgpu'];
  } catch (e) {
    throw new UsageError(`${cmd}: --dawn ${choice.dawn}: cannot load it: ${(e as Error).message.split('\n')[0]}`);
  }
}

/** What to try instead when the GPU backend does not start in `mode`. */
function remedy(mode: GpuModeFlag): string {
  const options = [
    mode === 'webgpu' || mode === 'auto'
      ? "for webgpu in Node, install Dawn's bindings (npm install webgpu@0.4.0) or pass them with --dawn FILE, on a machine with a GPU driver"
      : '',
    mode !== 'webasm' && mode !== 'auto' ? 'use --gpu-mode webasm (gpu.js on the CPU through WebAssembly) or --gpu-mode auto (the first mode that starts)' : '',
    'run on the CPU backend with --device cpu (the default)',
  ].filter(Boolean);
  return `What to do: ${options.join('; or ')}.`;
}

/**
 * Runs `fn` on the chosen device: for 'gpu', starts the GPU backend once (its mode and the modes it
 * skipped go to io.err) and disposes of it when `fn` ends, however it ends. `label` describes the
 * device for reports, e.g. 'gpu (webasm)'.
 */
export async function withDevice<T>(cmd: string, choice: DeviceChoice, io: CliIO, fn: (device: Device, label: string) => Promise<T>): Promise<T> {
  if (choice.device === 'cpu') return fn('cpu', 'cpu');
  const webgpu = loadDawn(cmd, choice);
  let info: Awaited<ReturnType<typeof initBackend>>;
  try {
    info = await initBackend('gpu', { mode: choice.mode, ...(webgpu ? { webgpu } : {}) });
  } catch (e) {
    const why = (e as Error).message.replace(/^initBackend: /, '').replace(/\.$/, '');
    throw new DeviceError(`--device gpu: the GPU backend did not start (--gpu-mode ${choice.mode}): ${why}. ${remedy(choice.mode)}`);
  }
  try {
    const skipped = info.tried.filter((t) => !t.ok);
    const slow =
      info.mode === 'cpu' || info.mode === 'webasm' ? ` (gpu.js runs its ${info.mode} kernels on the CPU: a check of the GPU code path, not a speed-up)` : '';
    io.err(
      `${cmd}: device gpu, gpu.js mode ${info.mode}${slow}${skipped.length ? `; not available: ${skipped.map((t) => `${t.mode}: ${t.why}`).join('; ')}` : ''}`,
    );
    return await fn('gpu', `gpu (${info.mode})`);
  } finally {
    await disposeBackend('gpu');
  }
}
