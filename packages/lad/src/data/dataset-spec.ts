// Serialisable dataset descriptions, so that a worker thread (the loader's prefetch) can rebuild the
// dataset the main thread holds. A spec is plain JSON-like data (structured-clone safe):
//   { kind: 'voc' | 'cityscapes' | 'ade20k' | 'cocostuff' | 'folder', args }   the folder loaders, or
//   { kind: 'module', module, export, args, construct? }   any factory or class of any module:
//   `(await import(module))[export](...args)`, or `new …(...args)` with construct.
// The real-dataset factories attach their spec (`dataset.spec`); `withSpec` attaches one to any other.

import { ValueError } from '@lad/tensor';
import type { SegDataset } from './types.ts';
import { nodeModule } from '../node.ts';
import type { Ade20kOptions, CityscapesOptions, CocoStuffOptions, DatasetSpec, FolderSpecArgs, ModuleSpec, VocOptions } from './spec-types.ts';

export type { DatasetSpec, FolderSpecArgs, ModuleSpec } from './spec-types.ts';

/** The built-in kinds, loaded lazily so that a spec only imports the loader it names. */
const BUILTIN = {
  voc: async (a: VocOptions) => (await import('./voc.ts')).vocDataset(a),
  cityscapes: async (a: CityscapesOptions) => (await import('./cityscapes.ts')).cityscapesDataset(a),
  ade20k: async (a: Ade20kOptions) => (await import('./ade20k.ts')).ade20kDataset(a),
  cocostuff: async (a: CocoStuffOptions) => (await import('./cocostuff.ts')).cocoStuffDataset(a),
  folder: async (a: FolderSpecArgs) => new (await import('./folder.ts')).FolderDataset(a.dir, a.split, { normalization: a.normalization }),
} satisfies Record<Exclude<DatasetSpec['kind'], 'module'>, (a: never) => Promise<SegDataset>>;

/** Builds the dataset a spec describes. */
export async function datasetFromSpec(spec: DatasetSpec): Promise<SegDataset> {
  switch (spec.kind) {
    case 'voc':
      return BUILTIN.voc(spec.args);
    case 'cityscapes':
      return BUILTIN.cityscapes(spec.args);
    case 'ade20k':
      return BUILTIN.ade20k(spec.args);
    case 'cocostuff':
      return BUILTIN.cocostuff(spec.args);
    case 'folder':
      return BUILTIN.folder(spec.args);
    case 'module':
      return fromModule(spec);
    default:
      throw new ValueError(
        `datasetFromSpec: unknown kind '${(spec as { kind: unknown }).kind}': expected voc, cityscapes, ade20k, cocostuff, folder or module.`,
      );
  }
}

async function fromModule(spec: ModuleSpec): Promise<SegDataset> {
  const url = spec.module.startsWith('file:') ? spec.module : nodeModule('datasetFromSpec', 'node:url').pathToFileURL(spec.module).href;
  const mod = (await import(url)) as Record<string, unknown>;
  const factory = mod[spec.export];
  if (typeof factory !== 'function') throw new ValueError(`datasetFromSpec: ${spec.module} has no exported function or class '${spec.export}'.`);
  if (spec.construct) return new (factory as new (...a: unknown[]) => SegDataset)(...spec.args);
  return await (factory as (...a: unknown[]) => SegDataset | Promise<SegDataset>)(...spec.args);
}

/** The spec a dataset carries, if any. */
export function specOf(ds: SegDataset): DatasetSpec | undefined {
  return (ds as SegDataset & { spec?: DatasetSpec }).spec;
}

/** Attaches `spec` to `ds` (in place) and returns it, so the loader can prefetch it in a worker. */
export function withSpec<D extends SegDataset>(ds: D, spec: DatasetSpec): D & { readonly spec: DatasetSpec } {
  Object.defineProperty(ds, 'spec', { value: spec, enumerable: false, configurable: true });
  return ds as D & { readonly spec: DatasetSpec };
}
