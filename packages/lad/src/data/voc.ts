// PASCAL VOC 2012 segmentation (21 classes) in its published layout: VOCdevkit/VOC2012/JPEGImages,
// palette PNGs in SegmentationClass (colours decoded through the VOC colour map; 255 border → -1),
// ImageSets/Segmentation/{train,val,trainval}.txt; plus the SBD-augmented set as commonly distributed
// (gray PNGs in SegmentationClassAug, list ImageSets/Segmentation/train_aug.txt). Follows the
// released code's label convention (lad-method.md §2.1).

import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { entriesFor, findDir, labelTable, PairedDataset, readList, requireDir } from './paired.ts';
import type { VocOptions } from './spec-types.ts';

/** The 21 PASCAL VOC classes (background first), in label-id order. */
export const VOC_CLASSES = [
  'background',
  'aeroplane',
  'bicycle',
  'bird',
  'boat',
  'bottle',
  'bus',
  'car',
  'cat',
  'chair',
  'cow',
  'diningtable',
  'dog',
  'horse',
  'motorbike',
  'person',
  'pottedplant',
  'sheep',
  'sofa',
  'train',
  'tvmonitor',
] as const;

/** The VOC colour of palette index i: the bits of i spread over R, G, B from the high bit down. */
export function vocColor(i: number): [number, number, number] {
  let r = 0,
    g = 0,
    b = 0;
  for (let j = 0, c = i; j < 8; j++, c >>= 3) {
    r |= ((c >> 0) & 1) << (7 - j);
    g |= ((c >> 1) & 1) << (7 - j);
    b |= ((c >> 2) & 1) << (7 - j);
  }
  return [r, g, b];
}

/** Packed RGB (r << 16 | g << 8 | b) → raw label value, for the 21 classes and the 255 border. */
export const VOC_PALETTE: ReadonlyMap<number, number> = new Map(
  [...VOC_CLASSES.keys(), 255].map((i) => {
    const [r, g, b] = vocColor(i);
    return [(r << 16) | (g << 8) | b, i] as const;
  }),
);

const VOC_TABLE = labelTable([...[...VOC_CLASSES.keys()].map((k) => [k, k] as const), [255, -1]]);

/** The VOC2012 folder under `root` (root/VOCdevkit/VOC2012, root/VOC2012 or root itself). */
function vocDir(root: string): string {
  requireDir(root, 'VOC root');
  const inside = [join(root, 'VOCdevkit', 'VOC2012'), join(root, 'VOC2012')];
  if (!inside.some(existsSync) && existsSync(join(root, 'JPEGImages'))) return root;
  return findDir(inside, 'VOCdevkit/VOC2012 folder');
}

/** PASCAL VOC 2012 (or VOC + SBD for 'train_aug'); lazy, one image/label pair per list line. */
export function vocDataset(opts: VocOptions): PairedDataset {
  const split = opts.split ?? 'train';
  const dir = vocDir(opts.root);
  const aug = split === 'train_aug';
  const images = requireDir(join(dir, 'JPEGImages'), 'JPEGImages folder');
  const labels = requireDir(join(dir, aug ? 'SegmentationClassAug' : 'SegmentationClass'), 'label folder');
  const ids = readList(join(dir, 'ImageSets', 'Segmentation', `${split}.txt`));
  return new PairedDataset({
    name: `voc-${split}`,
    classNames: VOC_CLASSES,
    entries: entriesFor(
      ids,
      (id) => join(images, `${id}.jpg`),
      (id) => join(labels, `${id}.png`),
    ),
    table: VOC_TABLE,
    palette: aug ? undefined : VOC_PALETTE,
    normalization: opts.normalization,
    spec: { kind: 'voc', args: { ...opts, split } },
  });
}
