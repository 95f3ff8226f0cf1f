// Device setup: `await initBackend('gpu', { mode })` loads gpu.js and the GPU backend (lazily, so
// CPU-only programs never load them), picks the gpu.js mode and reports why; `await flush()` runs
// every queued device kernel; `disposeBackend('gpu')` frees the device so Node can exit.

import { DeviceError } from '../errors.ts';
import { registerBackend, unregisterBackend, deviceBackend, hasBackend } from './backend.ts';
import type { GpuInfo, InitOptions } from './gpu/runtime.ts';

export type { GpuInfo, InitOptions };
export type { GpuMode } from './gpu/runtime.ts';

/** Starts the GPU backend (gpu.js, loaded now) in `opts.mode` or the first mode that works here, and registers it as device 'gpu'. */
export async function initBackend(device: 'gpu', opts: InitOptions = {}): Promise<GpuInfo> {
  if (device !== 'gpu') throw new DeviceError(`initBackend: unknown device '${String(device)}': expected 'gpu' (the CPU backend is always there).`);
  const [{ gpuBackend }, rt] = await Promise.all([import('./gpu/index.ts'), import('./gpu/runtime.ts')]);
  const info = await rt.initGpu(opts);
  registerBackend('gpu', gpuBackend);
  return info;
}

/** Runs every queued kernel on every device (and the checks deferred to it). */
export async function flush(): Promise<void> {
  if (hasBackend('gpu')) await deviceBackend('gpu', 'flush').flush();
}

/** Destroys the device's kernels and context; tensors left on it become unreadable. */
export async function disposeBackend(device: 'gpu'): Promise<void> {
  if (!hasBackend(device)) return;
  const rt = await import('./gpu/runtime.ts');
  rt.disposeGpu();
  unregisterBackend(device);
}

/** Counters of the GPU backend: live and created buffers, compiled/evicted kernels, launches, collections asked for. */
export async function gpuStats(): Promise<ReturnType<typeof import('./gpu/runtime.ts').gpuStats>> {
  return (await import('./gpu/runtime.ts')).gpuStats();
}
