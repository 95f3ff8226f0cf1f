// Bundles bench/gpu.ts (with @lad/tensor, gpu.js and the conformance runner), or another entry such
// as the lad CLI, into one ESM file that plain Node runs without node_modules: the payload of
// bench/gpu-check.sh. Usage: `npx tsx bench/gpu-bundle.ts <out.mjs> [entry.ts]`.

import * as esbuild from 'esbuild';
const out = process.argv[2] ?? 'bench/out/gpu-check/gpu.mjs';
const entry = process.argv[3] ?? new URL('./gpu.ts', import.meta.url).pathname;
await esbuild.build({
  entryPoints: [entry],
  outfile: out,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  external: ['gl'], // headless gl: never used (see issue 4)
  // gpu.js is CommonJS: give the ESM bundle a require
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
console.log(`gpu-bundle: wrote ${out}`);
