// @lad/lad datasets: the shared contract, image IO, synthetic datasets, the folder layout, the real
// datasets' loaders (VOC, Cityscapes, ADE20K, COCO-Stuff), augmentation and the DataLoader.
export * from './types.ts';
export * from './image-io.ts';
export * from './raw.ts';
export * from './synthetic.ts';
export * from './digits-seg.ts';
export * from './textured-blobs.ts';
export * from './folder.ts';
export * from './voc.ts';
export * from './cityscapes.ts';
export * from './ade20k.ts';
export * from './cocostuff.ts';
export * from './augment.ts';
export * from './spec-types.ts';
export * from './dataset-spec.ts';
export * from './loader.ts';
