// Entry of the DataLoader's prefetch worker (node:worker_threads, TypeScript loaded through tsx).
// Protocol: 'init' {spec, seed, augment} → 'ready' {name, length} | 'init-error'; then each 'batch'
// {id, epoch, indices} → 'batch' {id, batch} (buffers transferred) | 'error' {id, error}, in order.
// The batch is built by batch.ts's loadBatch, the same code as the synchronous path.

import { parentPort } from 'node:worker_threads';
import { InternalError } from '@lad/tensor';
import { datasetFromSpec, type DatasetSpec } from './dataset-spec.ts';
import { loadBatch } from './batch.ts';
import type { AugmentOptions } from './augment.ts';
import type { SegDataset } from './types.ts';

export type ToWorker =
  | { type: 'init'; spec: DatasetSpec; seed: number; augment?: AugmentOptions }
  | { type: 'batch'; id: number; epoch: number; indices: number[] };

export interface WireError {
  name: string;
  message: string;
}

const errorOf = (e: unknown): WireError => (e instanceof Error ? { name: e.name, message: e.message } : { name: 'Error', message: String(e) });

if (parentPort) {
  const port = parentPort;
  let setup: Promise<{ ds: SegDataset; seed: number; augment?: AugmentOptions }> | undefined;
  port.on('message', async (msg: ToWorker) => {
    if (msg.type === 'init') {
      setup = datasetFromSpec(msg.spec).then((ds) => ({ ds, seed: msg.seed, augment: msg.augment }));
      setup.then(
        ({ ds }) => port.postMessage({ type: 'ready', name: ds.name, length: ds.length }),
        (e) => port.postMessage({ type: 'init-error', error: errorOf(e) }),
      );
      return;
    }
    try {
      if (!setup) throw new InternalError('loader-worker: batch requested before init.');
      const { ds, seed, augment } = await setup;
      const batch = loadBatch(ds, msg.indices, msg.epoch, seed, augment);
      port.postMessage({ type: 'batch', id: msg.id, batch }, [batch.images.buffer as ArrayBuffer, batch.labels.buffer as ArrayBuffer]);
    } catch (e) {
      port.postMessage({ type: 'error', id: msg.id, error: errorOf(e) });
    }
  });
}
