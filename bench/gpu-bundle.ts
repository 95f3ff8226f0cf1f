// Bundles bench/gpu.ts (with @lad/tensor, gpu.js and the conformance runner) into one ESM file that
// plain Node runs without node_modules: the payload of bench/gpu-check.sh.
// Usage: `npx tsx bench/gpu-bundle.ts <out.mjs>`.

import * as esbuild from 'esbuild';
const out = process.argv[2] ?? 'bench/out/gpu-check/gpu.mjs';
await esbuild.build({
  entryPoints: [new URL('./gpu.ts', import.meta.url).pathname],
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
