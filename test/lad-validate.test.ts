// The config validator (packages/lad/src/validate.ts): every preset and default passes; every enum
// rejects any other string naming the key path; every range rejects values outside it; unknown and
// missing keys at any depth are errors; cross-field rules and sweep values are checked; the enum
// lists drive the code that switches on them. Then the losses' own argument checks (temperatures,
// consLoss) and the loss functions' config check.

import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Generator, ValueError, randn, tensor } from '@lad/tensor';
import {
  ARCHS,
  CODE_DISTS,
  CONS_LOSSES,
  ConfigError,
  DATA_KINDS,
  DEFAULT_LAD,
  DEFAULT_TRAIN,
  INIT_MODES,
  KD_LOSSES,
  OUTPUT_STRIDES,
  PAPER_MODEL,
  RESNET_DEPTHS,
  TINY_MODEL,
  applySettings,
  buildModel,
  channelWiseDistillation,
  codeTable,
  consistencyLoss,
  modelPreset,
  pixelKD,
  studentLoss,
  teacherLoss,
  validateExperimentConfig,
  validateLadConfig,
  validateModelConfig,
  validateTrainConfig,
  type LadConfig,
} from '@lad/lad';
import { EXPERIMENT_PRESETS, FULL, QUICK, TEXTURED } from '../packages/lad/src/presets.ts';
import { SMALL_TRAIN } from '../packages/lad/src/cli/run-config.ts';

/** The ConfigError `fn` throws (fails if it returns or throws something else). */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    expect(e).toBeInstanceOf(ValueError);
    return e as ConfigError;
  }
  throw new Error('expected a ConfigError, but none was thrown');
}

/** A deep copy of `o` with the value at dotted `path` set to `v` (array indices allowed). */
function withPath<T>(o: T, path: string, v: unknown): T {
  const out = structuredClone(o) as Record<string, unknown>;
  const keys = path.split('.');
  const parent = keys.slice(0, -1).reduce<Record<string, unknown>>((x, k) => x[k] as Record<string, unknown>, out);
  parent[keys.at(-1)!] = v;
  return out as T;
}
const withoutPath = <T>(o: T, path: string): T => {
  const out = structuredClone(o) as Record<string, unknown>;
  const keys = path.split('.');
  delete keys.slice(0, -1).reduce<Record<string, unknown>>((x, k) => x[k] as Record<string, unknown>, out)[keys.at(-1)!];
  return out as T;
};

const FULL_WITH_DIR = { ...FULL, data: { ...FULL.data, dir: '/data/voc' } };
const validExperiment = () => structuredClone(TEXTURED);

/** [path in ExperimentConfig, its list] for every enum. */
const ENUM_KEYS: [string, readonly (string | number)[]][] = [
  ['lad.consLoss', CONS_LOSSES],
  ['lad.kdLoss', KD_LOSSES],
  ['lad.encodeTrain.codeDist', CODE_DISTS],
  ['lad.encodeDistill.codeDist', CODE_DISTS],
  ['lad.encodeTeacherEval.codeDist', CODE_DISTS],
  ['model.arch', ARCHS],
  ['model.backbone.depth', RESNET_DEPTHS],
  ['model.backbone.outputStride', OUTPUT_STRIDES],
  ['model.inChannels', [3, 4]],
  ['init', INIT_MODES],
  ['data.kind', DATA_KINDS],
];

/** [path, a valid value, invalid values] for numbers with a range. */
const RANGES: [string, number | null, unknown[]][] = [
  ...['baseline', 'teacher', 'student'].flatMap((s): [string, number | null, unknown[]][] => [
    [`${s}.iterations`, 1, [0, -1, 1.5, NaN, '10', null]],
    [`${s}.batchSize`, 2, [0, -3, 2.5, Infinity]],
    [`${s}.lr`, 1e-3, [0, -0.1, NaN, Infinity, '0.1']],
    [`${s}.momentum`, 0, [1, -0.1, 1.5, NaN]],
    [`${s}.weightDecay`, 0, [-1e-4, NaN, Infinity]],
    [`${s}.polyPower`, 0, [-1, NaN]],
    [`${s}.cropSize`, null, [0, -8, 8.5, 'none']],
    [`${s}.evalEvery`, 0, [-1, 0.5]],
    [`${s}.checkpointEvery`, 0, [-1, 2.5]],
    [`${s}.seed`, -5, [0.5, NaN, 2 ** 60]],
  ]),
  ['lad.consT', 0.5, [0, -4, NaN, Infinity]],
  ['lad.kdT', 1, [0, -1, NaN]],
  ['lad.consWeight', 0, [-1, NaN, Infinity]],
  ['lad.kdWeight', 0, [-0.5, Infinity]],
  ['lad.auxWeightTeacher', 0, [-0.1]],
  ['lad.auxWeightStudent', 0, [NaN]],
  ['lad.auxWeightBaseline', 0, [-2]],
  ['lad.labelChannelInitStd', 0, [-0.1, NaN]],
  ['lad.encodeTrain.sigma', 0, [-0.01, NaN]],
  ['lad.encodeTrain.scale', 100, [0, -1, Infinity]],
  ['lad.encodeDistill.smoothPasses', 2, [-1, 1.5]],
  ['model.numClasses', 1, [0, 2.5]],
  ['model.headChannels', 1, [0, -8]],
  ['model.backbone.width', 2, [0, 3.5]],
  ['model.backbone.labelChannelStd', 0, [-1]],
  ['model.auxChannels', null, [0, 1.5]],
  ['model.keyChannels', 4, [0]],
  ['model.dropout', 0, [1, -0.1, NaN]],
  ['model.auxDropout', null, [1.2]],
  ['data.train', 1, [0, 1.5]],
  ['data.val', 3, [0]],
  ['data.size', 8, [0, -48]],
  ['data.seed', -1, [0.5]],
  ['eval.limit', null, [0, 2.5]],
  ['eval.batchSize', 1, [0]],
  ['eval.examples', 0, [-1]],
];

describe('validate: what passes', () => {
  it('every experiment preset (full with a data folder), the defaults, and every architecture preset', () => {
    for (const [name, p] of Object.entries(EXPERIMENT_PRESETS)) {
      if (name !== 'full') expect(() => validateExperimentConfig(p), name).not.toThrow();
    }
    expect(() => validateExperimentConfig(FULL_WITH_DIR)).not.toThrow();
    for (const lad of [DEFAULT_LAD, QUICK.lad]) expect(() => validateLadConfig(lad)).not.toThrow();
    for (const t of [DEFAULT_TRAIN, SMALL_TRAIN, QUICK.baseline, TEXTURED.student]) expect(() => validateTrainConfig(t)).not.toThrow();
    for (const arch of ARCHS)
      for (const base of ['tiny', 'paper'] as const) expect(() => validateModelConfig(modelPreset(base, arch)), `${base} ${arch}`).not.toThrow();
    expect(() => validateModelConfig(PAPER_MODEL)).not.toThrow();
  });

  it('any valid value at a ranged key passes, and the config still builds', () => {
    const STD_PAIR = ['model.backbone.labelChannelStd', 'lad.labelChannelInitStd']; // must agree (checked below)
    for (const [path, ok] of RANGES) {
      const cfg = STD_PAIR.includes(path) ? STD_PAIR.reduce((c, q) => withPath(c, q, ok), validExperiment()) : withPath(validExperiment(), path, ok);
      expect(() => validateExperimentConfig(cfg), path).not.toThrow();
    }
    for (const [path, list] of ENUM_KEYS) {
      if (path === 'data.kind' || path === 'init') continue; // another kind needs other keys; checked below
      for (const v of list) {
        const cfg = withPath(validExperiment(), path, v);
        if (path === 'model.arch' && v === 'stdc') cfg.model.backbone.width = 8;
        expect(() => validateExperimentConfig(cfg), `${path} = ${v}`).not.toThrow();
      }
    }
    expect(() => validateExperimentConfig({ ...validExperiment(), init: 'scratch' })).not.toThrow();
  });
});

describe('validate: what fails, naming the key path', () => {
  it("refuses a model.backbone.labelChannelStd that differs from lad.labelChannelInitStd (the teachers' redraw): a knob that would change no run", () => {
    const e = configError(() => validateExperimentConfig(withPath(validExperiment(), 'model.backbone.labelChannelStd', 1)));
    expect(e.path).toBe('model.backbone.labelChannelStd');
    expect(e.message).toMatch(/labelChannelStd is 1 but lad\.labelChannelInitStd is 0\.1/);
    const both = applySettings(validExperiment(), ['labelChannelStd=1']);
    expect([both.model.backbone.labelChannelStd, both.lad.labelChannelInitStd]).toEqual([1, 1]);
    expect(() => validateExperimentConfig(both)).not.toThrow();
  });

  it('refuses a teacher batch of 1 when teacher-otherlabels would run (each image needs another in its batch), before any training', () => {
    const one = withPath(validExperiment(), 'teacher.batchSize', 1);
    const e = configError(() => validateExperimentConfig({ ...one, arms: null }));
    expect(e.path).toBe('teacher.batchSize');
    expect(e.message).toMatch(/teacher.batchSize is 1: teacher-otherlabels/);
    expect(() => validateExperimentConfig({ ...one, arms: ['teacher-lad', 'student-lad'] })).not.toThrow();
    expect(() => validateExperimentConfig({ ...one, arms: ['teacher-lad'], lad: { ...one.lad, teacherLabels: 'otherImage' } })).toThrow(
      /teacher.batchSize is 1/,
    );
  });

  it("reports the issue's examples: kdLoss 'cdw', consLoss 'foo', a typo key, a teacher with -1 iterations", () => {
    expect(configError(() => validateLadConfig({ ...DEFAULT_LAD, kdLoss: 'cdw' })).message).toBe(
      "config: lad.kdLoss: got 'cdw', expected one of cwd, pixelKD, none (did you mean 'cwd'?).",
    );
    expect(configError(() => validateLadConfig({ ...DEFAULT_LAD, consLoss: 'foo' })).path).toBe('lad.consLoss');
    const typo = configError(() => validateLadConfig({ ...DEFAULT_LAD, kdweight: 1 }));
    expect([typo.path, typo.message]).toEqual(['lad.kdweight', expect.stringMatching(/^config: lad.kdweight: unknown key \(did you mean 'kdWeight'\?\)/)]);
    expect(configError(() => validateExperimentConfig(withPath(QUICK, 'teacher.iterations', -1))).message).toBe(
      'config: teacher.iterations: got -1, expected an integer >= 1.',
    );
  });

  it('every enum rejects any string not in its list, naming the key (property)', () => {
    for (const [path, list] of ENUM_KEYS) {
      fc.assert(
        fc.property(
          fc.string({ maxLength: 12 }).filter((s) => !list.includes(s)),
          (s) => {
            const e = configError(() => validateExperimentConfig(withPath(validExperiment(), path, s)));
            return e.path === path && e.message.startsWith(`config: ${path}: got '${s}', expected one of ${list.join(', ')}`);
          },
        ),
        { numRuns: 25 },
      );
    }
  });

  it('every ranged key rejects values outside its range, naming the key', () => {
    for (const [path, , bad] of RANGES) {
      for (const v of bad) {
        const e = configError(() => validateExperimentConfig(withPath(validExperiment(), path, v)));
        expect(e.path, `${path} = ${String(v)}`).toBe(path);
        expect(e.message, path).toMatch(new RegExp(`^config: ${path.replace(/\./g, '\\.')}: got .*, expected `));
      }
    }
  });

  it('rejects an unknown key and a missing key at every depth (property)', () => {
    const objects = ['', 'lad', 'lad.encodeTrain', 'model', 'model.backbone', 'baseline', 'teacher', 'student', 'eval', 'data', 'data.options'];
    const cfg = validExperiment();
    cfg.data = { ...QUICK.data };
    fc.assert(
      fc.property(fc.constantFrom(...objects), fc.string({ minLength: 1, maxLength: 10 }), (where, key) => {
        const target = where
          ? where.split('.').reduce<Record<string, unknown>>((o, k) => o[k] as Record<string, unknown>, cfg as unknown as Record<string, unknown>)
          : cfg;
        fc.pre(!Object.hasOwn(target, key) && !key.includes('.') && key !== '__proto__');
        const path = where ? `${where}.${key}` : key;
        const e = configError(() => validateExperimentConfig(withPath(cfg, path, 1)));
        return e.path === path && /unknown key/.test(e.message);
      }),
      { numRuns: 60 },
    );
    for (const path of ['lad.kdT', 'lad.encodeDistill.sigma', 'model.backbone.depth', 'student.seed', 'eval.limit', 'seeds', 'sweep']) {
      const e = configError(() => validateExperimentConfig(withoutPath(validExperiment(), path)));
      expect([e.path, e.message]).toEqual([path, expect.stringContaining('got nothing (the key is missing)')]);
    }
  });

  it('checks the cross-field rules, the seeds and the data kinds', () => {
    expect(configError(() => validateModelConfig({ ...TINY_MODEL, arch: 'ocr', aux: false })).path).toBe('model.aux');
    expect(() => buildModel({ ...TINY_MODEL, arch: 'ocr', aux: false })).toThrow(/ocr needs aux/); // the rule the validator states
    expect(configError(() => validateModelConfig({ ...TINY_MODEL, arch: 'stdc', backbone: { ...TINY_MODEL.backbone, width: 5 } })).path).toBe(
      'model.backbone.width',
    );
    expect(() => buildModel({ ...TINY_MODEL, arch: 'stdc', backbone: { ...TINY_MODEL.backbone, width: 5 } })).toThrow(/even integer/);
    expect(configError(() => validateExperimentConfig({ ...QUICK, seeds: [] })).path).toBe('seeds');
    expect(configError(() => validateExperimentConfig({ ...QUICK, seeds: [0, 0] })).message).toMatch(/seeds: got \[0,0\], expected distinct seeds/);
    expect(configError(() => validateExperimentConfig({ ...QUICK, seeds: [0, 1.5] })).path).toBe('seeds[1]');
    expect(configError(() => validateExperimentConfig(FULL)).message).toMatch(/data.dir: got '', expected the dataset folder/);
    expect(configError(() => validateExperimentConfig({ ...QUICK, data: { ...QUICK.data, options: { thickenPasess: 2 } } })).path).toBe(
      'data.options.thickenPasess',
    );
    expect(configError(() => validateExperimentConfig({ ...QUICK, data: { kind: 'folder', dir: '/x', val: null, train: 5 } })).path).toBe('data.train');
  });

  it('applies every sweep value and checks the result; an unknown sweep knob is named', () => {
    const e = configError(() => validateExperimentConfig({ ...TEXTURED, sweep: [{ path: 'lad.consT', values: [4, 0] }] }));
    expect([e.path, e.message]).toEqual(['lad.consT', 'config: at grid point lad.consT=0: lad.consT: got 0, expected a finite number > 0.']);
    expect(configError(() => validateExperimentConfig({ ...TEXTURED, sweep: [{ path: 'labelScale', values: [1, -1] }] })).message).toMatch(
      /at grid point labelScale=-1: lad.encodeTrain.scale/,
    );
    expect(configError(() => validateExperimentConfig({ ...TEXTURED, sweep: [{ path: 'iterations', values: [10, 0] }] })).path).toBe('baseline.iterations');
    expect(configError(() => validateExperimentConfig({ ...TEXTURED, sweep: [{ path: 'kdLoss', values: ['cdw'] }] })).path).toBe('lad.kdLoss'); // a knob under lad.
    expect(
      configError(() =>
        validateExperimentConfig({
          ...TEXTURED,
          sweep: [
            { path: 'lad.consWeight', values: [0] },
            { path: 'lad.nope', values: [1] },
          ],
        }),
      ).path,
    ).toBe('sweep[1].path');
    expect(configError(() => validateExperimentConfig({ ...TEXTURED, sweep: [{ path: 'labelScale', values: [] }] })).path).toBe('sweep[0].values');
    // the second axis of a grid is checked in combination with the first
    expect(
      configError(() =>
        validateExperimentConfig({
          ...TEXTURED,
          sweep: [
            { path: 'lad.consWeight', values: [0, 5] },
            { path: 'outputStride', values: [8, 32] },
          ],
        }),
      ).message,
    ).toMatch(/at grid point lad.consWeight=0,outputStride=32: model.backbone.outputStride: got 32, expected one of 4, 8, 16/);
  });

  it('names the caller when a library function checks its argument', () => {
    const e = configError(() => validateLadConfig({ ...DEFAULT_LAD, kdT: 0 }, 'cfg', 'studentLoss'));
    expect(e.message).toBe('studentLoss: cfg.kdT: got 0, expected a finite number > 0.');
  });
});

describe('the enum lists drive the code', () => {
  it('codeTable draws every CODE_DISTS value; consistencyLoss computes every CONS_LOSSES value', () => {
    for (const codeDist of CODE_DISTS) expect(codeTable(2, 3, { codeDist, sigma: 0, scale: 1, smoothPasses: 0 }, new Generator(1))).toHaveLength(8);
    const g = new Generator(3);
    const z1 = randn([1, 3, 2, 2], { generator: g }),
      z2 = randn([1, 3, 2, 2], { generator: g });
    for (const consLoss of CONS_LOSSES) expect(Number.isFinite(consistencyLoss(z1, z2, { ...DEFAULT_LAD, consLoss }).item()), consLoss).toBe(true);
  });
});

describe('the losses check their own arguments', () => {
  const g = new Generator(5);
  const s = randn([1, 3, 2, 2], { generator: g }),
    t = randn([1, 3, 2, 2], { generator: g });

  it('CWD and pixel KD reject a temperature that is not a finite number > 0 (property), and accept any that is', () => {
    const bad = fc.oneof(fc.double({ max: 0, noNaN: true }), fc.constantFrom(NaN, Infinity, -Infinity));
    fc.assert(
      fc.property(bad, (T) => {
        expect(() => channelWiseDistillation(s, t, { temperature: T })).toThrow(
          new ValueError(`channelWiseDistillation: opts.temperature: got ${T}, expected a finite number > 0.`),
        );
        expect(() => pixelKD(s, t, { temperature: T })).toThrow(/^pixelKD: opts.temperature: got .*, expected a finite number > 0\.$/);
        expect(() => consistencyLoss(s, t, { ...DEFAULT_LAD, consT: T })).toThrow(/^consistencyLoss: cfg.consT: got /);
      }),
      { numRuns: 30 },
    );
    fc.assert(
      fc.property(
        fc.double({ min: 0.05, max: 50, noNaN: true }),
        (T) => Number.isFinite(channelWiseDistillation(s, t, { temperature: T }).item()) && Number.isFinite(pixelKD(s, t, { temperature: T }).item()),
      ),
      { numRuns: 20 },
    );
    // mse and none do not use consT
    expect(() => consistencyLoss(s, t, { ...DEFAULT_LAD, consLoss: 'mse', consT: 0 })).not.toThrow();
  });

  it('consistencyLoss names an unknown consLoss instead of a TypeError; the step losses check their whole config', () => {
    const bad = { ...DEFAULT_LAD, consLoss: 'foo' } as unknown as LadConfig;
    expect(() => consistencyLoss(s, t, bad)).toThrow(new ValueError('consistencyLoss: cfg.consLoss: got "foo", expected one of cwd, pixelKL, mse, none.'));
    const model = buildModel({ ...TINY_MODEL, arch: 'fcn', backbone: { ...TINY_MODEL.backbone, width: 4 }, headChannels: 8, numClasses: 3, inChannels: 4 });
    const batch = { images: randn([1, 3, 16, 16], { generator: g }), labels: tensor(new Int32Array(256).fill(1), { shape: [1, 16, 16], dtype: 'int32' }) };
    expect(() => teacherLoss(model, batch, 3, bad, g)).toThrow(/^teacherLoss: cfg.consLoss: got 'foo', expected one of cwd, pixelKL, mse, none\.$/);
    const cdw = { ...DEFAULT_LAD, kdLoss: 'cdw' } as unknown as LadConfig;
    expect(() => studentLoss(model, model, batch, 3, cdw, g)).toThrow(
      /^studentLoss: cfg.kdLoss: got 'cdw', expected one of cwd, pixelKD, none \(did you mean 'cwd'\?\)\.$/,
    );
  });
});
