// COCO-Stuff (171 classes: 80 things + 91 stuff) in two layouts.
// 164K (published): images/{train2017,val2017}/*.jpg with stuffthingmaps_trainval2017/{train2017,val2017}/*.png
// (annotations/{train2017,val2017} accepted too) holding 0-based COCO ids 0..181, 255 = unlabeled.
// 10K: the release stores labels as MATLAB .mat files, which we do not read; we support the commonly
// used conversion instead: images/*.jpg, annotations/*.png, imageLists/{train,test}.txt ('val' = test).
// The 182 ids map to 171 contiguous classes as in mmsegmentation's converters; unused ids and 255 → -1.

import { join } from 'node:path';
import { DatasetFileError } from './folder.ts';
import { entriesFor, findDir, labelTable, listFiles, PairedDataset, readList, requireDir, stem } from './paired.ts';
import type { CocoStuffEncoding, CocoStuffOptions } from './spec-types.ts';

/** The 171 class names of COCO-Stuff (80 things, then 91 stuff), in label-id order. */
// biome-ignore format: the class names, many per line as the dataset lists them
export const COCO_STUFF_CLASSES = [
  'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat', 'traffic light',
  'fire hydrant', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog', 'horse', 'sheep', 'cow',
  'elephant', 'bear', 'zebra', 'giraffe', 'backpack', 'umbrella', 'handbag', 'tie', 'suitcase', 'frisbee',
  'skis', 'snowboard', 'sports ball', 'kite', 'baseball bat', 'baseball glove', 'skateboard', 'surfboard',
  'tennis racket', 'bottle', 'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple',
  'sandwich', 'orange', 'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch',
  'potted plant', 'bed', 'dining table', 'toilet', 'tv', 'laptop', 'mouse', 'remote', 'keyboard',
  'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'book', 'clock', 'vase', 'scissors',
  'teddy bear', 'hair drier', 'toothbrush', 'banner', 'blanket', 'branch', 'bridge', 'building-other',
  'bush', 'cabinet', 'cage', 'cardboard', 'carpet', 'ceiling-other', 'ceiling-tile', 'cloth', 'clothes',
  'clouds', 'counter', 'cupboard', 'curtain', 'desk-stuff', 'dirt', 'door-stuff', 'fence', 'floor-marble',
  'floor-other', 'floor-stone', 'floor-tile', 'floor-wood', 'flower', 'fog', 'food-other', 'fruit',
  'furniture-other', 'grass', 'gravel', 'ground-other', 'hill', 'house', 'leaves', 'light', 'mat', 'metal',
  'mirror-stuff', 'moss', 'mountain', 'mud', 'napkin', 'net', 'paper', 'pavement', 'pillow', 'plant-other',
  'plastic', 'platform', 'playingfield', 'railing', 'railroad', 'river', 'road', 'rock', 'roof', 'rug',
  'salad', 'sand', 'sea', 'shelf', 'sky-other', 'skyscraper', 'snow', 'solid-other', 'stairs', 'stone',
  'straw', 'structural-other', 'table', 'tent', 'textile-other', 'towel', 'tree', 'vegetable', 'wall-brick',
  'wall-concrete', 'wall-other', 'wall-panel', 'wall-stone', 'wall-tile', 'wall-wood', 'water-other',
  'waterdrops', 'window-blind', 'window-other', 'wood',
] as const;

/** 0-based COCO ids 0..181 with no class (COCO thing ids never used: street sign, hat, shoe, ...). */
export const COCO_STUFF_UNUSED_IDS = [11, 25, 28, 29, 44, 65, 67, 68, 70, 82, 90] as const;

/** 0-based COCO id (0..181) → contiguous class (0..170), or -1 for an unused id. */
export const COCO_STUFF_ID_TO_CLASS: readonly number[] = (() => {
  let k = 0;
  return Array.from({ length: 182 }, (_, id) => ((COCO_STUFF_UNUSED_IDS as readonly number[]).includes(id) ? -1 : k++));
})();

/** Raw PNG value → class. 'zero-based': ids 0..181, 255 unlabeled; 'one-based' (the .mat's S as is): 0 unlabeled, ids 1..182. */
function cocoTable(encoding: CocoStuffEncoding) {
  const off = encoding === 'one-based' ? 1 : 0;
  return labelTable([...COCO_STUFF_ID_TO_CLASS.map((c, id) => [id + off, c] as const), [encoding === 'one-based' ? 0 : 255, -1]]);
}

/** COCO-Stuff 164K or 10K; lazy, labels mapped to 171 classes. */
export function cocoStuffDataset(opts: CocoStuffOptions): PairedDataset {
  const variant = opts.variant ?? '164k',
    split = opts.split ?? 'train',
    encoding = opts.encoding ?? 'zero-based';
  requireDir(opts.root, 'COCO-Stuff root');
  const { images, labels, ids } = variant === '10k' ? layout10k(opts.root, split) : layout164k(opts.root, split);
  return new PairedDataset({
    name: `cocostuff${variant}-${split}`,
    classNames: COCO_STUFF_CLASSES,
    entries: entriesFor(
      ids,
      (id) => join(images, `${id}.jpg`),
      (id) => join(labels, `${id}.png`),
    ),
    table: cocoTable(encoding),
    normalization: opts.normalization,
    spec: { kind: 'cocostuff', args: { ...opts, variant, split, encoding } },
  });
}

function layout164k(root: string, split: string) {
  if (split === 'test') throw new DatasetFileError(root, "COCO-Stuff 164K has no labelled 'test' split (use 'train' or 'val')");
  const sub = split === 'train' ? 'train2017' : 'val2017';
  const images = requireDir(join(root, 'images', sub), 'images folder');
  const labels = findDir([join(root, 'stuffthingmaps_trainval2017', sub), join(root, 'annotations', sub)], 'label folder');
  const ids = listFiles(images, '.jpg', 'images folder').map(stem);
  if (ids.length === 0) throw new DatasetFileError(images, 'no *.jpg images');
  return { images, labels, ids };
}

function layout10k(root: string, split: string) {
  const images = requireDir(join(root, 'images'), 'images folder');
  const labels = requireDir(join(root, 'annotations'), 'annotations folder');
  const ids = readList(join(root, 'imageLists', split === 'train' ? 'train.txt' : 'test.txt'));
  return { images, labels, ids };
}
