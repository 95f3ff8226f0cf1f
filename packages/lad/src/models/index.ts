// Segmentation models of @lad/lad: the contract (types), the dilated ResNet v1s backbone, the decode
// heads (FCN, PSP, ASPP, OCR), the EncoderDecoder segmentor, STDC-Seg, the typed config builder and
// complexity counters. See ARCHITECTURE.md (models) and lad-method.md §3.

export type * from './types.ts';
export * from './layers.ts';
export * from './backbones/resnet.ts';
export * from './heads/fcn.ts';
export * from './heads/psp.ts';
export * from './heads/aspp.ts';
export * from './heads/ocr.ts';
export * from './stdc.ts';
export * from './segmentor.ts';
export * from './build.ts';
export * from './complexity.ts';
export * from './pretrained.ts';
