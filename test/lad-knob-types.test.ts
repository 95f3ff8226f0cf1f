// setKnob: experiment knobs set from code with the path and the value's type checked by the compiler
// (the @ts-expect-error lines fail `tsc` if they compile), and the same result as --set's text.

import { describe, expect, it } from 'vitest';
import { applySettings, experimentPreset, setKnob, validateExperimentConfig } from '@lad/lad';

describe('setKnob', () => {
  const quick = experimentPreset('quick');

  it('sets a field by its dotted path, as --set does, and leaves the input alone', () => {
    const c = setKnob(setKnob(quick, 'teacher.iterations', 400), 'lad.consWeight', 0.5);
    expect(c.teacher.iterations).toBe(400);
    expect(c.lad.consWeight).toBe(0.5);
    expect(c).toEqual(applySettings(quick, ['teacher.iterations=400', 'lad.consWeight=0.5']));
    expect(quick.teacher.iterations).not.toBe(400);
    expect(setKnob(quick, 'lad.encodeTrain.scale', 'auto').lad.encodeTrain.scale).toBe('auto');
    expect(setKnob(quick, 'eval.limit', null).eval.limit).toBeNull();
    expect(setKnob(quick, 'init', 'scratch').init).toBe('scratch');
    const warm = setKnob(quick, 'lad.labelScaleWarmup', 100);
    validateExperimentConfig(warm);
    expect(warm.lad.labelScaleWarmup).toBe(100);
    expect(() => validateExperimentConfig(setKnob(quick, 'lad.labelScaleWarmup', 0.5))).toThrow(/labelScaleWarmup/);
  });

  it('does not compile a misspelt path, a value of the wrong type, or a path into an array', () => {
    // @ts-expect-error no such field
    expect(() => setKnob(quick, 'teacher.iteration', 400)).toThrow(/unknown knob 'teacher.iteration'/);
    // @ts-expect-error a number field takes a number
    expect(() => validateExperimentConfig(setKnob(quick, 'teacher.iterations', '400'))).toThrow(/teacher.iterations/);
    // @ts-expect-error init is 'baseline' or 'scratch'
    expect(() => validateExperimentConfig(setKnob(quick, 'init', 'pretrained'))).toThrow(/init/);
    // @ts-expect-error seeds is an array, not a knob
    expect(() => setKnob(quick, 'seeds', 3)).toThrow(/unknown knob 'seeds'/);
  });
});
