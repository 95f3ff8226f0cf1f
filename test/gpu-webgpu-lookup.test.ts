// initBackend's lookup of the optional npm package `webgpu` (Dawn's Node bindings): found from a
// project's node_modules when installed, skipped with a reason when missing, too old (0.2.x, gpu.js's
// own dependency) or broken; and the message initBackend('gpu', { mode: 'webgpu' }) gives without it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DeviceError, initBackend } from '@lad/tensor';
import { findWebGpu } from '../packages/tensor/src/backend/gpu/runtime.ts';

const root = mkdtempSync(join(tmpdir(), 'lad-webgpu-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A project folder, with a fake node_modules/webgpu package of `version` (null: none) whose entry is `index`. */
function project(name: string, version: string | null, index = 'export function create() { return { marker: 42 }; }\nexport const globals = {};\n'): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'package.json'), '{ "name": "p", "type": "module" }');
  if (version !== null) {
    const pkg = join(dir, 'node_modules', 'webgpu');
    mkdirSync(pkg, { recursive: true });
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name: 'webgpu', version, type: 'module', main: 'index.js' }));
    writeFileSync(join(pkg, 'index.js'), index);
  }
  return dir;
}

describe('findWebGpu', () => {
  it('loads webgpu 0.4 or later from the project that has it', async () => {
    const found = await findWebGpu([project('none', null), project('old0', '0.2.9'), project('new', '0.4.0')]);
    expect(found.why).toBe('');
    expect(found.module?.create([])).toEqual({ marker: 42 });
  });

  it('says why there is no module: not installed, 0.2.x, or a failing import', async () => {
    expect(await findWebGpu([project('none2', null)])).toEqual({ why: 'the npm package webgpu is not installed' });
    const old = await findWebGpu([project('old', '0.2.9')]);
    expect(old.module).toBeUndefined();
    expect(old.why).toBe(`the webgpu package found (${join(root, 'old', 'node_modules', 'webgpu')}) is 0.2.9, not 0.4 or later`);
    const broken = await findWebGpu([project('broken', '0.4.0', "throw new Error('no linux-x64.dawn.node here');\n")]);
    expect(broken.module).toBeUndefined();
    expect(broken.why).toBe('npm webgpu@0.4.0 did not load: no linux-x64.dawn.node here');
  });
});

describe("initBackend('gpu', { mode: 'webgpu' }) in Node without the webgpu package", () => {
  // The workspace does not install webgpu (it is not a dependency of any package here).
  it('throws a DeviceError that names the install command', async () => {
    const err = await initBackend('gpu', { mode: 'webgpu' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeviceError);
    expect((err as Error).message).toContain(
      "webgpu: Node has no navigator.gpu: the npm package webgpu is not installed; install Dawn's bindings in your project (npm install webgpu@0.4.0)",
    );
  });
});
