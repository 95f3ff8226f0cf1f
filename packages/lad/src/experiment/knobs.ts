// Knobs of an experiment config for --set and --sweep: a dotted path to any number, string or boolean
// field (`teacher.iterations`, `lad.encodeTrain.sigma`, or a field under `lad.` by its own name), or a
// named knob, a typed setter for what spans several fields (`labelScale` sets all three encodings).
// Values are parsed like the field they replace; validateExperimentConfig checks the result.

import type { ExperimentConfig, KnobValue, SweepSpec } from '../presets.ts';
import { EXPERIMENT_PRESETS } from '../presets.ts';
import type { LabelEncoding } from '../config.ts';
import { ValueError } from '@lad/tensor';

const encodings = (c: ExperimentConfig, f: (e: LabelEncoding) => LabelEncoding): ExperimentConfig => ({
  ...c,
  lad: { ...c.lad, encodeTrain: f(c.lad.encodeTrain), encodeDistill: f(c.lad.encodeDistill), encodeTeacherEval: f(c.lad.encodeTeacherEval) },
});

interface NamedKnob {
  help: string;
  /** How the text is read: a number, a number or 'auto'. */
  parse: (text: string) => number | 'auto';
  set: (c: ExperimentConfig, v: number | 'auto') => ExperimentConfig;
}

const num =
  (name: string) =>
  (t: string): number => {
    const n = Number(t);
    if (t.trim() === '' || !Number.isFinite(n)) throw new ValueError(`${name} takes a number: got '${t}'.`);
    return n;
  };
const numOrAuto =
  (name: string) =>
  (t: string): number | 'auto' =>
    t.trim() === 'auto' ? 'auto' : num(name)(t);
const asNum = (v: number | 'auto'): number => v as number;

/** A synthetic dataset at `size` px; digits-seg's digits and strokes keep their size relative to the canvas. */
function resize(c: ExperimentConfig, size: number): ExperimentConfig {
  if (c.data.kind === 'folder') return c;
  if (c.data.kind === 'textured-blobs') return { ...c, data: { ...c.data, size } };
  const o = c.data.options ?? {},
    r = size / c.data.size;
  const options = {
    ...o,
    ...(o.digitSize ? { digitSize: [Math.round(o.digitSize[0] * r), Math.round(o.digitSize[1] * r)] as [number, number] } : {}),
    ...(o.thickenPasses ? { thickenPasses: Math.max(1, Math.round(o.thickenPasses * r)) } : {}),
  };
  return { ...c, data: { ...c.data, size, options } };
}

/** Knobs that set several fields at once, each a typed setter. */
// biome-ignore format: one row per knob
export const NAMED_KNOBS: Record<string, NamedKnob> = {
  labelScale: { help: 'the scale s of every label encoding (a number, or auto: 1.7 × the image std)', parse: numOrAuto('labelScale'), set: (c, v) => encodings(c, (e) => ({ ...e, scale: v })) },
  smoothPasses: { help: '3×3 box-blur passes of the code map, every encoding', parse: num('smoothPasses'), set: (c, v) => encodings(c, (e) => ({ ...e, smoothPasses: asNum(v) })) },
  labelSigma: { help: 'pixel noise σ of the teacher-training encoding', parse: num('labelSigma'), set: (c, v) => ({ ...c, lad: { ...c.lad, encodeTrain: { ...c.lad.encodeTrain, sigma: asNum(v) } } }) },
  iterations: { help: 'iterations of the baseline, teacher and student stages', parse: num('iterations'), set: (c, v) => ({ ...c, baseline: { ...c.baseline, iterations: asNum(v) }, teacher: { ...c.teacher, iterations: asNum(v) }, student: { ...c.student, iterations: asNum(v) } }) },
  labelChannelStd: { help: "the std of the teachers' label-channel weights at init (model.backbone.labelChannelStd and lad.labelChannelInitStd)", parse: num('labelChannelStd'), set: (c, v) => ({ ...c, model: { ...c.model, backbone: { ...c.model.backbone, labelChannelStd: asNum(v) } }, lad: { ...c.lad, labelChannelInitStd: asNum(v) } }) },
  outputStride: { help: 'the backbone output stride (4, 8 or 16)', parse: num('outputStride'), set: (c, v) => ({ ...c, model: { ...c.model, backbone: { ...c.model.backbone, outputStride: asNum(v) as 4 | 8 | 16 } } }) },
  size: { help: 'image size of a synthetic dataset; digits-seg scales its digit sizes and stroke thickening with it', parse: num('size'), set: (c, v) => resize(c, asNum(v)) },
};

/** The dotted path a knob stands for (a path or `lad.<knob>`), or null for a named knob. */
export function resolveKnob(cfg: ExperimentConfig, knob: string): string | null {
  if (Object.hasOwn(NAMED_KNOBS, knob)) return null;
  const has = (path: string) => {
    let o: unknown = cfg;
    for (const k of path.split('.')) {
      if (o === null || typeof o !== 'object' || Array.isArray(o) || !Object.hasOwn(o, k)) return false;
      o = (o as Record<string, unknown>)[k];
    }
    return o === null || typeof o !== 'object';
  };
  for (const p of [knob, `lad.${knob}`]) if (has(p)) return p;
  throw new ValueError(
    `unknown knob '${knob}': give a dotted path to a number, string or boolean of the experiment config (e.g. lad.consWeight, teacher.iterations, lad.encodeTrain.sigma) or one of ${Object.keys(NAMED_KNOBS).join(', ')}.`,
  );
}

function getPath(cfg: ExperimentConfig, path: string): unknown {
  return path.split('.').reduce<unknown>((o, k) => (o as Record<string, unknown>)[k], cfg);
}

/** Parses `text` as a value of `knob` (typed like the field it replaces; enums are left to the validator). */
export function parseKnobValue(cfg: ExperimentConfig, knob: string, text: string): KnobValue {
  const path = resolveKnob(cfg, knob);
  if (path === null) return NAMED_KNOBS[knob].parse(text);
  const cur = getPath(cfg, path);
  const t = text.trim();
  if (path.endsWith('.scale') && t === 'auto') return 'auto';
  if (typeof cur === 'number' || cur === null || cur === 'auto') {
    if (t === 'null' && (cur === null || path.endsWith('cropSize') || path.endsWith('limit') || path === 'data.val')) return null;
    const n = Number(t);
    if (t === '' || !Number.isFinite(n)) throw new ValueError(`${path} takes a number${cur === null ? ' or null' : ''}: got '${text}'.`);
    return n;
  }
  if (typeof cur === 'boolean') {
    if (t !== 'true' && t !== 'false') throw new ValueError(`${path} takes true or false: got '${text}'.`);
    return t === 'true';
  }
  return t; // enums and ranges: the config validator (validate.ts)
}

/** A copy of `cfg` with `knob` set to `value`. */
export function withKnob(cfg: ExperimentConfig, knob: string, value: KnobValue): ExperimentConfig {
  const path = resolveKnob(cfg, knob);
  if (path === null) return NAMED_KNOBS[knob].set(structuredClone(cfg), value as number | 'auto');
  const out = structuredClone(cfg);
  const keys = path.split('.');
  const parent = keys.slice(0, -1).reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, out as unknown as Record<string, unknown>);
  parent[keys.at(-1)!] = value;
  return out;
}

/** Whether V is a field a knob may set (a number, string or boolean, or null). */
type Leaf<V> = [NonNullable<V>] extends [number | string | boolean] ? true : false;

/** The dotted paths of T's number, string and boolean fields (through every variant of a union; no arrays): what `setKnob` takes. */
export type KnobPath<T> = T extends readonly unknown[]
  ? never
  : T extends object
    ? { [K in keyof T & string]-?: Leaf<T[K]> extends true ? K : `${K}.${KnobPath<NonNullable<T[K]>>}` }[keyof T & string]
    : never;

/** The type of the field at dotted path P of T. */
export type KnobValueAt<T, P extends string> = T extends unknown
  ? P extends `${infer K}.${infer R}`
    ? K extends keyof T
      ? KnobValueAt<NonNullable<T[K]>, R>
      : never
    : P extends keyof T
      ? T[P]
      : never
  : never;

/**
 * withKnob for code: `setKnob(cfg, 'teacher.iterations', 400)`, the path and the value's type checked
 * by the compiler (a misspelt path or a string for a number does not compile); the ranges by
 * validateExperimentConfig, as for --set.
 */
export function setKnob<P extends KnobPath<ExperimentConfig>>(cfg: ExperimentConfig, path: P, value: KnobValueAt<ExperimentConfig, P>): ExperimentConfig {
  return withKnob(cfg, path, value as KnobValue);
}

/** `knob=v1,v2,…` → one grid axis with typed values (throws saying what to change). */
export function parseSweep(cfg: ExperimentConfig, text: string): SweepSpec {
  const eq = text.indexOf('=');
  if (eq <= 0) throw new ValueError(`a sweep is KNOB=V1,V2,... (e.g. labelScale=1,10,100 or lad.consWeight=0,5): got '${text}'.`);
  const path = text.slice(0, eq).trim();
  const parts = text
    .slice(eq + 1)
    .split(',')
    .filter((s) => s.trim() !== '');
  if (parts.length === 0) throw new ValueError(`the sweep '${text}' lists no values after '='.`);
  return { path, values: parts.map((p) => parseKnobValue(cfg, path, p)) };
}

/** Applies `knob=value` settings (e.g. from --set) in order. */
export function applySettings(cfg: ExperimentConfig, settings: readonly string[]): ExperimentConfig {
  let out = cfg;
  for (const s of settings) {
    const eq = s.indexOf('=');
    if (eq <= 0) throw new ValueError(`a setting is KNOB=VALUE (e.g. teacher.iterations=50): got '${s}'.`);
    const knob = s.slice(0, eq).trim();
    out = withKnob(out, knob, parseKnobValue(out, knob, s.slice(eq + 1)));
  }
  return out;
}

/** A preset by name, optionally with settings applied; throws listing the presets for an unknown name. */
export function experimentPreset(name: string, settings: readonly string[] = []): ExperimentConfig {
  const p = EXPERIMENT_PRESETS[name];
  if (!p) throw new ValueError(`unknown preset '${name}'; the presets are ${Object.keys(EXPERIMENT_PRESETS).join(', ')}.`);
  return applySettings(structuredClone(p), settings);
}

/** One point of the grid: the knob values that make it, its folder name, and its config. */
export interface GridPoint {
  /** knob → value, in axis order; {} for an experiment without a sweep. */
  values: Record<string, KnobValue>;
  /** '' for the single point; else `knob=value,knob=value` made safe for a folder name. */
  name: string;
  cfg: ExperimentConfig;
}

const safe = (s: string) => s.replace(/[^A-Za-z0-9.+=,-]+/g, '_');

/** Every combination of one value per sweep axis (the last axis varies fastest). */
export function gridPoints(cfg: ExperimentConfig): GridPoint[] {
  let points: GridPoint[] = [{ values: {}, name: '', cfg: { ...cfg, sweep: [] } }];
  for (const axis of cfg.sweep) {
    points = points.flatMap((p) =>
      axis.values.map((v) => {
        const values = { ...p.values, [axis.path]: v };
        return {
          values,
          name: safe(
            Object.entries(values)
              .map(([k, x]) => `${k}=${String(x)}`)
              .join(','),
          ),
          cfg: withKnob(p.cfg, axis.path, v),
        };
      }),
    );
  }
  return points;
}
