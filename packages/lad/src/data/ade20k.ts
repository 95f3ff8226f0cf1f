// ADE20K SceneParsing (MIT ADEChallengeData2016, 150 classes) in its published layout:
// ADEChallengeData2016/images/{training,validation}/*.jpg with annotations/{training,validation}/*.png
// of the same stem. Labels are reduced as mmsegmentation's reduce_zero_label does: 0 ("other") → -1
// (ignore), k → k − 1 for k = 1..150; any larger value is an error naming the file.

import { join } from 'node:path';
import { existsSync } from 'node:fs';
import { DatasetFileError } from './folder.ts';
import { entriesFor, findDir, labelTable, listFiles, PairedDataset, requireDir, stem } from './paired.ts';
import type { Ade20kOptions } from './spec-types.ts';

/** The 150 class names of ADE20K (SceneParsing), in label-id order. */
// biome-ignore format: the class names, many per line as the dataset lists them
export const ADE20K_CLASSES = [
  'wall', 'building', 'sky', 'floor', 'tree', 'ceiling', 'road', 'bed', 'windowpane', 'grass', 'cabinet',
  'sidewalk', 'person', 'earth', 'door', 'table', 'mountain', 'plant', 'curtain', 'chair', 'car', 'water',
  'painting', 'sofa', 'shelf', 'house', 'sea', 'mirror', 'rug', 'field', 'armchair', 'seat', 'fence', 'desk',
  'rock', 'wardrobe', 'lamp', 'bathtub', 'railing', 'cushion', 'base', 'box', 'column', 'signboard',
  'chest of drawers', 'counter', 'sand', 'sink', 'skyscraper', 'fireplace', 'refrigerator', 'grandstand',
  'path', 'stairs', 'runway', 'case', 'pool table', 'pillow', 'screen door', 'stairway', 'river', 'bridge',
  'bookcase', 'blind', 'coffee table', 'toilet', 'flower', 'book', 'hill', 'bench', 'countertop', 'stove',
  'palm', 'kitchen island', 'computer', 'swivel chair', 'boat', 'bar', 'arcade machine', 'hovel', 'bus',
  'towel', 'light', 'truck', 'tower', 'chandelier', 'awning', 'streetlight', 'booth', 'television receiver',
  'airplane', 'dirt track', 'apparel', 'pole', 'land', 'bannister', 'escalator', 'ottoman', 'bottle', 'buffet',
  'poster', 'stage', 'van', 'ship', 'fountain', 'conveyer belt', 'canopy', 'washer', 'plaything',
  'swimming pool', 'stool', 'barrel', 'basket', 'waterfall', 'tent', 'bag', 'minibike', 'cradle', 'oven',
  'ball', 'food', 'step', 'tank', 'trade name', 'microwave', 'pot', 'animal', 'bicycle', 'lake', 'dishwasher',
  'screen', 'blanket', 'sculpture', 'hood', 'sconce', 'vase', 'traffic light', 'tray', 'ashcan', 'fan', 'pier',
  'crt screen', 'plate', 'monitor', 'bulletin board', 'shower', 'radiator', 'glass', 'clock', 'flag',
] as const;

const ADE20K_TABLE = labelTable([[0, -1], ...ADE20K_CLASSES.map((_, k) => [k + 1, k] as const)]);

/** ADE20K: every *.jpg of the split folder, sorted, with its annotation PNG. */
export function ade20kDataset(opts: Ade20kOptions): PairedDataset {
  const split = opts.split ?? 'train';
  requireDir(opts.root, 'ADE20K root');
  const inRoot = existsSync(join(opts.root, 'images')) && !existsSync(join(opts.root, 'ADEChallengeData2016'));
  const dir = inRoot ? opts.root : findDir([join(opts.root, 'ADEChallengeData2016')], 'ADEChallengeData2016 folder');
  const sub = split === 'train' ? 'training' : 'validation';
  const images = join(dir, 'images', sub);
  const annotations = requireDir(join(dir, 'annotations', sub), 'annotations folder');
  const ids = listFiles(images, '.jpg', 'images folder').map(stem);
  if (ids.length === 0) throw new DatasetFileError(images, 'no *.jpg images');
  return new PairedDataset({
    name: `ade20k-${split}`,
    classNames: ADE20K_CLASSES,
    entries: entriesFor(
      ids,
      (id) => join(images, `${id}.jpg`),
      (id) => join(annotations, `${id}.png`),
    ),
    table: ADE20K_TABLE,
    normalization: opts.normalization,
    spec: { kind: 'ade20k', args: { ...opts, split } },
  });
}
