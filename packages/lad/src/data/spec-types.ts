// The types of the serialisable dataset descriptions (dataset-spec.ts) and the real-dataset loaders'
// options they carry. A leaf module (types only): the loaders attach specs and dataset-spec.ts builds
// datasets from them, and both import these types from here, so neither imports the other's types.

import type { Normalization, Split } from './types.ts';

/** VOC 2012 (voc.ts). */
export type VocSplit = 'train' | 'val' | 'trainval' | 'train_aug';

/** Options of vocDataset: the folder and the split. */
export interface VocOptions {
  /** The folder holding VOCdevkit/ (VOCdevkit itself or VOC2012 itself are accepted too). */
  root: string;
  /** 'train_aug' = the SBD-augmented list with SegmentationClassAug labels. Default 'train'. */
  split?: VocSplit;
  /** Default CAFFE_NORMALIZATION. */
  normalization?: Normalization;
}

/** Cityscapes (cityscapes.ts). */
export interface CityscapesOptions {
  /** The folder holding leftImg8bit/ and gtFine/. */
  root: string;
  /** Default 'train'. */
  split?: 'train' | 'val' | 'test';
  normalization?: Normalization;
}

/** ADE20K (ade20k.ts). */
export interface Ade20kOptions {
  /** The folder holding ADEChallengeData2016/ (or that folder itself). */
  root: string;
  /** 'train' reads training/, 'val' validation/. Default 'train'. */
  split?: 'train' | 'val';
  normalization?: Normalization;
}

/** COCO-Stuff 164K / 10K (cocostuff.ts). */
export type CocoStuffEncoding = 'zero-based' | 'one-based';

/** Options of cocoStuffDataset: the folder, the variant and the split. */
export interface CocoStuffOptions {
  /** The dataset folder (holding images/ and the label folder of the variant). */
  root: string;
  /** Default '164k'. */
  variant?: '164k' | '10k';
  /** 164K: 'train' = train2017, 'val' = val2017. 10K: imageLists/train.txt or imageLists/test.txt. Default 'train'. */
  split?: 'train' | 'val' | 'test';
  /** Label PNG encoding; default 'zero-based' (the 164K stuffthingmaps convention). */
  encoding?: CocoStuffEncoding;
  normalization?: Normalization;
}

/** A DatasetSpec of a dataset made by an exported factory (or class) of a module, with its arguments. */
export interface ModuleSpec {
  kind: 'module';
  /** A file: URL (e.g. `new URL('./my-data.ts', import.meta.url).href`) or an absolute path. */
  module: string;
  /** The exported factory's name; it returns a SegDataset (or a promise of one). */
  export: string;
  /** Structured-clone-safe arguments passed to the factory. */
  args: unknown[];
  /** Call the export with `new` (a class such as DigitsSeg). Default false. */
  construct?: boolean;
}

/** FolderDataset's constructor arguments (folder.ts). */
export interface FolderSpecArgs {
  dir: string;
  split: Split;
  normalization?: Normalization;
}

/** A serialisable description of a dataset, from which a worker thread rebuilds it (the loader's prefetch). */
export type DatasetSpec =
  | { kind: 'voc'; args: VocOptions }
  | { kind: 'cityscapes'; args: CityscapesOptions }
  | { kind: 'ade20k'; args: Ade20kOptions }
  | { kind: 'cocostuff'; args: CocoStuffOptions }
  | { kind: 'folder'; args: FolderSpecArgs }
  | ModuleSpec;
