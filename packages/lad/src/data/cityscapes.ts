// Cityscapes fine annotations (19 classes) in the published layout:
// leftImg8bit/<split>/<city>/<name>_leftImg8bit.png with gtFine/<split>/<city>/<name>_gtFine_labelIds.png,
// label ids mapped through the standard 34 → 19 trainId table of cityscapesScripts' labels.py;
// every id without a trainId (void classes, 255, license plate) becomes -1 (lad-method.md §2.1).

import { join } from 'node:path';
import { readdirSync, statSync } from 'node:fs';
import { DatasetFileError } from './folder.ts';
import { entriesFor, labelTable, listFiles, PairedDataset, requireDir } from './paired.ts';
import type { CityscapesOptions } from './spec-types.ts';

/** The 19 evaluated Cityscapes classes, in train-id order. */
export const CITYSCAPES_CLASSES = [
  'road',
  'sidewalk',
  'building',
  'wall',
  'fence',
  'pole',
  'traffic light',
  'traffic sign',
  'vegetation',
  'terrain',
  'sky',
  'person',
  'rider',
  'car',
  'truck',
  'bus',
  'train',
  'motorcycle',
  'bicycle',
] as const;

/** labelIds of the 19 training classes, in trainId order (trainId k ← CITYSCAPES_LABEL_IDS[k]). */
export const CITYSCAPES_LABEL_IDS = [7, 8, 11, 12, 13, 17, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 31, 32, 33] as const;

/** All 256 byte values: a trainId for the 19 listed labelIds, -1 for everything else. */
const CITYSCAPES_TABLE = labelTable([...Array.from({ length: 256 }, (_, v) => [v, -1] as const), ...CITYSCAPES_LABEL_IDS.map((id, k) => [id, k] as const)]);

const IMG_SUFFIX = '_leftImg8bit.png';
const LABEL_SUFFIX = '_gtFine_labelIds.png';

/** Cityscapes fine: every image of every city folder of the split, sorted by city then name. */
export function cityscapesDataset(opts: CityscapesOptions): PairedDataset {
  const split = opts.split ?? 'train';
  requireDir(opts.root, 'Cityscapes root');
  const imgRoot = requireDir(join(opts.root, 'leftImg8bit', split), 'leftImg8bit split folder');
  const gtRoot = requireDir(join(opts.root, 'gtFine', split), 'gtFine split folder');
  const cities = readdirSync(imgRoot)
    .filter((c) => statSync(join(imgRoot, c)).isDirectory())
    .sort();
  const pairs = cities.flatMap((city) =>
    listFiles(join(imgRoot, city), IMG_SUFFIX, 'city folder').map((f) => ({ city, name: f.slice(0, -IMG_SUFFIX.length) })),
  );
  if (pairs.length === 0) throw new DatasetFileError(imgRoot, `no *${IMG_SUFFIX} images in any city folder`);
  const byId = new Map(pairs.map((p) => [p.name, p.city]));
  return new PairedDataset({
    name: `cityscapes-${split}`,
    classNames: CITYSCAPES_CLASSES,
    entries: entriesFor(
      pairs.map((p) => p.name),
      (id) => join(imgRoot, byId.get(id)!, id + IMG_SUFFIX),
      (id) => join(gtRoot, byId.get(id)!, id + LABEL_SUFFIX),
    ),
    table: CITYSCAPES_TABLE,
    normalization: opts.normalization,
    spec: { kind: 'cityscapes', args: { ...opts, split } },
  });
}
