// The GPU backend in a real browser: bundles test/browser/entry.ts (esbuild, gpu.js's browser
// build), serves it on 127.0.0.1 and opens it in headless Chromium, whose WebGL2 and WebGPU run on
// SwiftShader (the CPU). The page compares GPU results with CPU ones and POSTs one event per check
// back here. Prints one line per mode and check and a summary; exits 1 on any failure.
// Needs Chromium (`apt-get install -y chromium`); .ci/run runs it. Run: `pnpm test:browser`.
// Options: --chromium PATH (else $CHROMIUM or /usr/bin/chromium), --timeout SECONDS (default 110),
// --require-webgpu (a missing WebGPU adapter fails instead of skipping), --verbose (Chromium's stderr),
// --entry FILE (another page script speaking the same events, for probing).

import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromiumPath, eventServer, launchChromium } from './chromium.ts';
import type { Event } from './entry.ts';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const chromium = chromiumPath(args, 'test:browser');
const timeoutS = Number(opt('--timeout') ?? 110);
const requireWebgpu = args.includes('--require-webgpu');
const verbose = args.includes('--verbose');
const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;

// ---- bundle ------------------------------------------------------------------------------------

const bundle = await build({
  entryPoints: [opt('--entry') ?? join(here, 'entry.ts')],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser', // gpu.js resolves to its "browser" build, dist/gpu-browser.js
  target: 'chrome120',
  // no shims or externals: @lad/tensor takes Node's modules with process.getBuiltinModule, at run time
  sourcemap: 'inline',
  logLevel: 'warning',
});
const js = bundle.outputFiles[0].text;
const bundledGpuJs = bundle.outputFiles[0].text.includes('gpu-browser');

// ---- server ------------------------------------------------------------------------------------

const PAGE = '<!doctype html><meta charset="utf-8"><title>lad tensor gpu</title><script type="module" src="/entry.js"></script>';
// Cross-origin isolation: the CPU backend uses SharedArrayBuffer (conv2d's backward), which a page only has when isolated.
const ISOLATED = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

const events: Event[] = [];
let finish!: (why: string | null) => void;
const finished = new Promise<string | null>((r) => (finish = r));

function onEvent(e: Event): void {
  events.push(e);
  switch (e.type) {
    case 'info':
      console.log(`  info  ${e.msg}`);
      break;
    case 'mode':
      console.log(`${e.ok ? 'MODE' : e.mode === 'webgpu' && !requireWebgpu && e.msg.startsWith('skipped') ? 'SKIP' : 'FAIL'}  ${e.mode}: ${e.msg}`);
      break;
    case 'check':
      console.log(`${e.ok ? 'PASS' : 'FAIL'}  ${e.mode.padEnd(6)} ${e.name.padEnd(44)} ${e.ms.toFixed(0).padStart(5)} ms${e.ok ? '' : `  ${e.msg}`}`);
      break;
    case 'error':
      console.log(`ERROR ${e.msg}`);
      break;
    case 'done':
      finish(null);
  }
}

const server = await eventServer(
  (req, res) => {
    if (req.url !== '/' && req.url !== '/entry.js') return false;
    const isPage = req.url === '/';
    res.writeHead(200, { 'Content-Type': isPage ? 'text/html' : 'text/javascript', 'Cache-Control': 'no-store', ...ISOLATED });
    res.end(isPage ? PAGE : js);
    return true;
  },
  (e) => onEvent(e as Event),
);
const url = server.url;

// ---- browser -----------------------------------------------------------------------------------

const browser = launchChromium(chromium, url, { verbose });
void browser.exited.then((why) => finish(`${why} early`));
const timer = setTimeout(() => finish(`timed out after ${timeoutS} s`), timeoutS * 1000);

console.log(`test:browser: bundle ${(js.length / 1024).toFixed(0)} KiB (gpu.js browser build: ${bundledGpuJs ? 'yes' : 'NO'}), ${chromium}, ${url}`);
const abort = await finished;
clearTimeout(timer);
await browser.close();
server.close();

// ---- summary -----------------------------------------------------------------------------------

const checks = events.filter((e) => e.type === 'check');
const modeFails = events.filter((e) => e.type === 'mode' && !e.ok && !(e.mode === 'webgpu' && !requireWebgpu && e.msg.startsWith('skipped')));
const errors = events.filter((e) => e.type === 'error');
const passed = checks.filter((c) => c.ok).length,
  failed = checks.length - passed;
const skipped = events.filter((e) => e.type === 'mode' && !e.ok).length - modeFails.length;
if (abort) {
  console.log(`ERROR ${abort}`);
  if (!verbose) console.log(browser.stderr().split('\n').slice(-30).join('\n'));
}
for (const mode of ['webgl2', 'webgpu']) {
  const mine = checks.filter((c) => c.mode === mode);
  if (mine.length) console.log(`  ${mode}: ${mine.filter((c) => c.ok).length}/${mine.length} checks passed`);
}
const bad = failed + modeFails.length + errors.length + (abort ? 1 : 0) + (bundledGpuJs ? 0 : 1);
console.log(`  wall time ${elapsed()}`);
console.log(`browser: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(bad > 0 || checks.length === 0 ? 1 : 0);
