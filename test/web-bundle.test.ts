// The library in a browser bundle: @lad/tensor, @lad/nn and @lad/lad (its `browser` entry, browser.ts,
// with the training loop and the experiment unit) bundle for platform 'browser' with no node: import
// left (Node's modules are taken at run time with process.getBuiltinModule); the browser entry is a
// part of the Node entry; and digits-seg takes its MNIST digits from the page (setMnistDigit).

import { describe, expect, it } from 'vitest';
import { build } from 'esbuild';
import { ValueError } from '@lad/tensor';
import * as lad from '@lad/lad';
import { DigitsSeg, mnistDigit, parseMnistDigits, setMnistDigit } from '@lad/lad';
import * as ladBrowser from '../packages/lad/src/browser.ts';

describe('browser bundle', () => {
  it("bundles the packages' browser entries with no node: import", async () => {
    // a node: import would fail the build (esbuild cannot resolve it for the browser) or stay as an external import
    const r = await build({
      stdin: { contents: "export * from '@lad/tensor'; export * from '@lad/nn'; export * from '@lad/lad';", loader: 'ts', resolveDir: '.' },
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'browser', // the `browser` condition: @lad/lad resolves to src/browser.ts
      target: 'chrome120',
      logLevel: 'silent',
      metafile: true,
    });
    const [out] = Object.values(r.metafile.outputs);
    expect(out.imports).toEqual([]);
    expect(Object.keys(r.metafile.inputs)).toEqual(
      expect.arrayContaining([
        'packages/lad/src/browser.ts',
        'packages/tensor/src/backend/cpu/threads.ts',
        'packages/nn/src/io/checkpoint.ts',
        'packages/lad/src/data/digits-seg.ts',
        'packages/lad/src/data/prefetch.ts',
        'packages/lad/src/train.ts',
        'packages/lad/src/experiment/unit.ts',
      ]),
    );
  });

  it('the browser entry exports a part of the Node entry, the same functions', () => {
    const names = Object.keys(ladBrowser);
    expect(names).toEqual(expect.arrayContaining(['trainModel', 'runUnit', 'DataLoader', 'evaluate', 'teacherLoss', 'QUICK']));
    for (const name of names) expect((lad as Record<string, unknown>)[name], name).toBe((ladBrowser as Record<string, unknown>)[name]);
    expect(names.length).toBeLessThan(Object.keys(lad).length); // the file-backed datasets and the runner are Node's only
  });

  it('fails to bundle a module that imports node:fs at the top (the check above can fail)', async () => {
    const bad = build({
      stdin: { contents: "import { readFileSync } from 'node:fs'; console.log(readFileSync);", loader: 'ts' },
      bundle: true,
      write: false,
      platform: 'browser',
      logLevel: 'silent',
    });
    await expect(bad).rejects.toThrow(/node:fs/);
  });
});

describe('MNIST digits handed over by a page', () => {
  /** A 28×28 digit: a solid square of intensity v in the middle. */
  const sample = (v: number) => Array.from({ length: 784 }, (_, i) => (i % 28 >= 6 && i % 28 < 22 && i >= 6 * 28 && i < 22 * 28 ? v : 0));

  it('parses the mnist package format and draws digits-seg from digits set by setMnistDigit', () => {
    const values = [...sample(1), ...sample(0.75), ...sample(0.25)];
    const bytes = new TextEncoder().encode(JSON.stringify({ data: values }));
    const parsed = parseMnistDigits(bytes, '7.json');
    expect(Array.from(parsed)).toEqual(values);
    setMnistDigit(7, parsed);
    expect(mnistDigit(7)).toBe(parsed);
    const ds = new DigitsSeg('train', { classes: [7], train: 2, size: 32, digitSize: [20, 28] });
    const labels = ds.get(0).label.data();
    expect(Array.from(labels).some((k) => k === 1)).toBe(true); // a drawn 7 (class 1) from the 3 samples given
  });

  it('rejects a bad file, a bad class and a bad length, naming them', () => {
    expect(() => parseMnistDigits(new TextEncoder().encode('{"data":[0.5,1]}'), 'x.json')).toThrow(/x\.json: expected a "data" array of 784 floats per sample/);
    expect(() => setMnistDigit(10, new Float32Array(784))).toThrow(ValueError);
    expect(() => setMnistDigit(3, new Float32Array(785))).toThrow(/setMnistDigit: data: expected a Float32Array of 784 floats per sample, got 785/);
    expect(() => mnistDigit(-1)).toThrow(/mnistDigit: d: got -1/);
  });
});
