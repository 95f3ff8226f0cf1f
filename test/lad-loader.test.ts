// DataLoader: batch shapes and dtypes, epoch order (identity, or reshuffled from (seed, epoch) only),
// dropLast, iterations(n) across epochs, augmentation seeded per (seed, epoch, index), the worker
// prefetch giving the synchronous path's bits, the fallback without a spec, worker errors, and a
// child process (under the tsx CLI) that exits although its loader was never closed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ValueError } from '@lad/tensor';
import { fileURLToPath } from 'node:url';
import { DataLoader, type Batch } from '../packages/lad/src/data/loader.ts';
import { loadSample } from '../packages/lad/src/data/batch.ts';
import { datasetFromSpec, withSpec } from '../packages/lad/src/data/dataset-spec.ts';
import { vocDataset } from '../packages/lad/src/data/voc.ts';
import { failingDataset, tinyDataset } from './fixtures/lad-tiny-dataset.ts';
import { pattern, writeGrayPng, writeJpeg, writeText } from './util/lad-fixtures.ts';

const bits = (b: Batch) => ({
  images: Buffer.from(b.images.data().buffer).toString('base64'),
  labels: Buffer.from(b.labels.data().buffer).toString('base64'),
  ids: b.ids,
  epoch: b.epoch,
});
const collect = async (it: AsyncIterable<Batch>) => {
  const out: Batch[] = [];
  for await (const b of it) out.push(b);
  return out;
};

describe('DataLoader: batches and order', () => {
  const ds = tinyDataset({ n: 10, size: [5, 6] });

  it('collates float32 [N, 3, H, W] images, int32 [N, H, W] labels and ids', () => {
    const L = new DataLoader(ds, { batchSize: 4 });
    const b = L.batch(0, 0);
    expect(b.images.shape).toEqual([4, 3, 5, 6]);
    expect(b.images.dtype).toBe('float32');
    expect(b.labels.shape).toEqual([4, 5, 6]);
    expect(b.labels.dtype).toBe('int32');
    expect(b.ids).toEqual(['s0', 's1', 's2', 's3']);
    expect(Array.from(b.labels.data().slice(30, 60))).toEqual(Array.from(ds.get(1).label.data()));
    expect(Array.from(b.images.data().slice(90, 180))).toEqual(Array.from(ds.get(1).image.data()));
  });

  it('keeps the last partial batch unless dropLast', () => {
    const keep = [...new DataLoader(ds, { batchSize: 4 }).epochSync(0)];
    expect(keep.map((b) => b.ids.length)).toEqual([4, 4, 2]);
    const drop = [...new DataLoader(ds, { batchSize: 4, dropLast: true }).epochSync(0)];
    expect(drop.map((b) => b.ids.length)).toEqual([4, 4]);
    expect(new DataLoader(ds, { batchSize: 4, dropLast: true }).length).toBe(2);
  });

  it("reshuffles every epoch; epoch e's order depends only on (seed, e)", () => {
    const a = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 7 });
    const b = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 7 });
    expect([...b.epochSync(1)].map((x) => x.ids)).toEqual(a.plan(1).map((p) => p.map((i) => `s${i}`)));
    expect(a.order(4)).toEqual(b.order(4)); // b never saw epochs 0..3
    for (const e of [0, 1, 2]) expect([...a.order(e)].sort((x, y) => x - y)).toEqual([...Array(10).keys()]);
    expect(new Set([0, 1, 2, 3].map((e) => a.order(e).join())).size).toBe(4);
    expect(new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 8 }).order(1)).not.toEqual(a.order(1));
    expect(new DataLoader(ds, { batchSize: 3 }).order(3)).toEqual([...Array(10).keys()]);
  });

  it('iterations(n) runs on across epochs like the iteration-based sampler, from any start', () => {
    const L = new DataLoader(ds, { batchSize: 4, shuffle: true, seed: 1, dropLast: true });
    const its = [...L.iterationsSync(7)];
    const want = [0, 1, 2, 3].flatMap((e) => L.plan(e).map((p) => ({ e, p })));
    expect(its.map((b) => [b.epoch, b.indices])).toEqual(want.slice(0, 7).map(({ e, p }) => [e, p]));
    expect([...L.iterationsSync(3, 5)].map((b) => b.indices)).toEqual(want.slice(5, 8).map(({ p }) => p));
    expect(() => [...new DataLoader(ds, { batchSize: 11, dropLast: true }).iterationsSync(1)]).toThrow(/no batch/);
  });

  it('augments each sample from (seed, epoch, index) only, whatever the batch it lands in', () => {
    const aug = { cropSize: 4 } as const;
    const L = new DataLoader(ds, { batchSize: 3, shuffle: true, seed: 9, augment: aug });
    const b = L.batch(2, 1);
    expect(b.images.shape).toEqual([3, 3, 4, 4]);
    const alone = loadSample(ds, b.indices[1], 2, 9, aug);
    expect(Array.from(b.images.data().slice(48, 96))).toEqual(Array.from(alone.image.data()));
    const other = new DataLoader(ds, { batchSize: 5, seed: 9, augment: aug }).batch(2, Math.floor(b.indices[1] / 5));
    const k = other.indices.indexOf(b.indices[1]);
    expect(Array.from(other.labels.data().slice(16 * k, 16 * k + 16))).toEqual(Array.from(alone.label.data()));
  });

  it('refuses samples of different sizes in one batch, naming them', () => {
    const mixed = {
      ...ds,
      name: 'mixed',
      numClasses: 4,
      classNames: ds.classNames,
      length: 2,
      get: (i: number) => (i === 0 ? ds.get(0) : tinyDataset({ n: 1, size: [4, 4] }).get(0)),
    };
    expect(() => new DataLoader(mixed, { batchSize: 2 }).batch(0, 0)).toThrow(/'s0' \(5×6\) with 's0' \(4×4\)/);
    expect(() => new DataLoader(ds, { batchSize: 0 })).toThrow(ValueError);
  });
});

describe('dataset specs', () => {
  const fixture = new URL('./fixtures/lad-tiny-dataset.ts', import.meta.url).href;

  it('rebuild a dataset from a module factory or class, by URL or path', async () => {
    const a = await datasetFromSpec({ kind: 'module', module: fixture, export: 'tinyDataset', args: [{ n: 3, seed: 2 }] });
    const b = await datasetFromSpec({ kind: 'module', module: fileURLToPath(fixture), export: 'TinyClass', construct: true, args: [{ n: 3, seed: 2 }] });
    expect(b.length).toBe(3);
    expect(Array.from(b.get(2).image.data())).toEqual(Array.from(a.get(2).image.data()));
  });

  it('name what is wrong', async () => {
    await expect(datasetFromSpec({ kind: 'module', module: fixture, export: 'nope', args: [] })).rejects.toThrow(
      /lad-tiny-dataset\.ts has no exported function or class 'nope'/,
    );
    await expect(datasetFromSpec({ kind: 'bogus' } as never)).rejects.toThrow(/unknown kind 'bogus'/);
  });
});

describe('DataLoader: prefetch in a worker thread', () => {
  let tmp: string;
  beforeAll(() => {
    tmp = mkdtempSync(join(tmpdir(), 'lad-loader-'));
  });
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('yields the synchronous batches bit for bit (module spec, shuffle, augmentation, across epochs)', async () => {
    const opts = { batchSize: 3, shuffle: true, seed: 11, augment: { cropSize: [5, 4] as [number, number] } };
    const L = new DataLoader(tinyDataset({ n: 8, size: [7, 9] }), { ...opts, prefetch: 2 });
    try {
      const got = (await collect(L.iterations(7, 1))).map(bits);
      expect(L.prefetching).toBe(true);
      const want = [...new DataLoader(tinyDataset({ n: 8, size: [7, 9] }), opts).iterationsSync(7, 1)].map(bits);
      expect(got).toEqual(want);
      expect((await collect(L.epoch(5))).map(bits)).toEqual([...L.epochSync(5)].map(bits));
    } finally {
      await L.close();
    }
  });

  it('rebuilds a real-dataset loader (VOC spec) in the worker with the same bits', async () => {
    const dir = join(tmp, 'VOCdevkit', 'VOC2012');
    const ids = ['a', 'b', 'c', 'd', 'e'];
    ids.forEach((id, k) => {
      writeJpeg(join(dir, 'JPEGImages', `${id}.jpg`), 10 + k, 8, pattern(10 + k, 8, k));
      writeGrayPng(
        join(dir, 'SegmentationClassAug', `${id}.png`),
        10 + k,
        8,
        Uint8Array.from({ length: (10 + k) * 8 }, (_, i) => [0, 3, 255, 20][(i + k) % 4]),
      );
    });
    writeText(join(dir, 'ImageSets', 'Segmentation', 'train_aug.txt'), ids.join('\n'));
    const opts = { batchSize: 2, shuffle: true, seed: 2, augment: { cropSize: 6 } };
    const L = new DataLoader(vocDataset({ root: tmp, split: 'train_aug' }), { ...opts, prefetch: true });
    try {
      const got = (await collect(L.iterations(6))).map(bits);
      expect(got).toEqual([...new DataLoader(vocDataset({ root: tmp, split: 'train_aug' }), opts).iterationsSync(6)].map(bits));
    } finally {
      await L.close();
    }
  });

  it('falls back to synchronous loading, with the reason, for a dataset without a spec', async () => {
    const ds = tinyDataset({ n: 4 });
    const plain = { name: 'plain', numClasses: ds.numClasses, classNames: ds.classNames, length: ds.length, get: (i: number) => ds.get(i) };
    const warnings: string[] = [];
    const L = new DataLoader(plain, { batchSize: 2, prefetch: true, warn: (m) => warnings.push(m) });
    expect((await collect(L.epoch(0))).map(bits)).toEqual([...L.epochSync(0)].map(bits));
    expect(L.prefetching).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/'plain' has no DatasetSpec/);
  });

  it("passes a sample's error from the worker to the caller", async () => {
    const L = new DataLoader(failingDataset({ n: 6, bad: 3 }), { batchSize: 2, prefetch: true });
    try {
      await expect(collect(L.epoch(0))).rejects.toThrow('/nowhere/3.png');
    } finally {
      await L.close();
    }
  });

  it('passes a failure to rebuild the dataset in the worker to the caller', async () => {
    const ds = withSpec(tinyDataset({ n: 4 }), {
      kind: 'module',
      module: new URL('./fixtures/lad-tiny-dataset.ts', import.meta.url).href,
      export: 'missingFactory',
      args: [],
    });
    const L = new DataLoader(ds, { batchSize: 2, prefetch: true });
    try {
      const err = await collect(L.epoch(0)).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ValueError); // the worker's error class survives the trip
      expect((err as Error).message).toMatch("no exported function or class 'missingFactory'");
    } finally {
      await L.close();
    }
  });

  it('a script run by the tsx CLI prefetches and exits without close()', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    const r = spawnSync(join(root, 'node_modules', '.bin', 'tsx'), [join(root, 'test', 'fixtures', 'lad-loader-exit.ts')], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.error).toBeUndefined();
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout.trim().split('\n').pop()!) as { ids: string[][]; same: boolean };
    expect(out.ids).toHaveLength(5);
    expect(out.same).toBe(true);
  });
});
