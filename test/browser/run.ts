// The GPU backend in a real browser: bundles test/browser/entry.ts (esbuild, gpu.js's browser
// build), serves it on 127.0.0.1 and opens it in headless Chromium, whose WebGL2 and WebGPU run on
// SwiftShader (the CPU). The page compares GPU results with CPU ones and POSTs one event per check
// back here. Prints one line per mode and check and a summary; exits 1 on any failure.
// Not part of CI (needs Chromium: `apt-get install chromium`). Run: `pnpm test:browser`.
// Options: --chromium PATH (else $CHROMIUM or /usr/bin/chromium), --timeout SECONDS (default 110),
// --require-webgpu (a missing WebGPU adapter fails instead of skipping), --verbose (Chromium's stderr),
// --entry FILE (another page script speaking the same events, for probing).

import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build, type Plugin } from 'esbuild';
import type { Event } from './entry.ts';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string): string | undefined => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const chromium = opt('--chromium') ?? process.env.CHROMIUM ?? '/usr/bin/chromium';
const timeoutS = Number(opt('--timeout') ?? 110);
const requireWebgpu = args.includes('--require-webgpu');
const verbose = args.includes('--verbose');
const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;

if (!existsSync(chromium)) {
  console.error(`test:browser: no Chromium at ${chromium} (apt-get install chromium, or pass --chromium PATH)`);
  process.exit(2);
}

// ---- bundle ------------------------------------------------------------------------------------

// The CPU backend's thread pool (backend/cpu/threads.ts) imports node:os and node:worker_threads
// at the top level; in the page it runs single-threaded, so these stand-ins are never asked to start a worker.
const NODE_SHIMS: Record<string, string> = {
  'node:os': 'export default { availableParallelism: () => 1 };',
  'node:worker_threads': [
    'const no = () => { throw new Error("worker_threads is not available in the browser"); };',
    'export class Worker { constructor() { no(); } }',
    'export const MessageChannel = globalThis.MessageChannel;',
    'export const receiveMessageOnPort = no;',
  ].join('\n'),
};
const nodeShims: Plugin = {
  name: 'node-shims',
  setup(b) {
    b.onResolve({ filter: /^node:(os|worker_threads)$/ }, (a) => ({ path: a.path, namespace: 'node-shim' }));
    b.onLoad({ filter: /.*/, namespace: 'node-shim' }, (a) => ({ contents: NODE_SHIMS[a.path], loader: 'js' }));
  },
};

const bundle = await build({
  entryPoints: [opt('--entry') ?? join(here, 'entry.ts')],
  bundle: true,
  write: false,
  format: 'esm',
  platform: 'browser', // gpu.js resolves to its "browser" build, dist/gpu-browser.js
  target: 'chrome120',
  // gpu/runtime.ts imports these only when it runs in Node (its loadGc); left as imports, never executed
  external: ['node:v8', 'node:vm'],
  plugins: [nodeShims],
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

const server = createServer((req: IncomingMessage, res: ServerResponse) => {
  if (req.method === 'POST' && req.url === '/event') {
    let body = '';
    req.on('data', (c: Buffer) => (body += c));
    req.on('end', () => {
      res.writeHead(204).end();
      try {
        onEvent(JSON.parse(body) as Event);
      } catch (e) {
        console.log(`ERROR bad event from the page: ${String(e)}: ${body.slice(0, 200)}`);
      }
    });
    return;
  }
  if (req.url === '/' || req.url === '/entry.js') {
    const isPage = req.url === '/';
    res.writeHead(200, { 'Content-Type': isPage ? 'text/html' : 'text/javascript', 'Cache-Control': 'no-store', ...ISOLATED });
    res.end(isPage ? PAGE : js);
    return;
  }
  res.writeHead(404).end();
});
await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

// ---- browser -----------------------------------------------------------------------------------

const profile = mkdtempSync(join(tmpdir(), 'lad-chromium-'));
const flags = [
  '--headless',
  '--no-sandbox', // root in a container
  `--user-data-dir=${profile}`,
  // no network here: keep Chromium from trying
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic',
  '--disable-default-apps', '--disable-extensions', '--no-default-browser-check', '--disable-dev-shm-usage',
  // WebGL2 on ANGLE's SwiftShader (Vulkan on the CPU); WebGPU (off by default on Linux) on Dawn's
  // SwiftShader adapter. (--enable-features=Vulkan is not needed and only logs vkCreateInstance failures.)
  '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--enable-unsafe-webgpu',
  url,
];
// its own process group, so that the browser and its helper processes (GPU, renderer, zygote) end together
const proc = spawn(chromium, flags, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
const killGroup = (sig: NodeJS.Signals): void => {
  try {
    process.kill(-proc.pid!, sig);
  } catch {
    // already gone
  }
};
let stderr = '';
proc.stderr!.on('data', (c: Buffer) => {
  stderr += c;
  if (verbose) process.stderr.write(c);
});
proc.on('exit', (code, sig) => finish(`Chromium exited early (code ${code}, signal ${sig})`));
const timer = setTimeout(() => finish(`timed out after ${timeoutS} s`), timeoutS * 1000);

console.log(`test:browser: bundle ${(js.length / 1024).toFixed(0)} KiB (gpu.js browser build: ${bundledGpuJs ? 'yes' : 'NO'}), ${chromium}, ${url}`);
const abort = await finished;
clearTimeout(timer);
proc.removeAllListeners('exit');
if (proc.exitCode === null) {
  const exited = new Promise((r) => proc.once('exit', r));
  killGroup('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
}
killGroup('SIGKILL'); // whatever of the group is left
server.close();
rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 200 });

// ---- summary -----------------------------------------------------------------------------------

const checks = events.filter((e) => e.type === 'check');
const modeFails = events.filter((e) => e.type === 'mode' && !e.ok && !(e.mode === 'webgpu' && !requireWebgpu && e.msg.startsWith('skipped')));
const errors = events.filter((e) => e.type === 'error');
const passed = checks.filter((c) => c.ok).length, failed = checks.length - passed;
const skipped = events.filter((e) => e.type === 'mode' && !e.ok).length - modeFails.length;
if (abort) {
  console.log(`ERROR ${abort}`);
  if (!verbose) console.log(stderr.split('\n').slice(-30).join('\n'));
}
for (const mode of ['webgl2', 'webgpu']) {
  const mine = checks.filter((c) => c.mode === mode);
  if (mine.length) console.log(`  ${mode}: ${mine.filter((c) => c.ok).length}/${mine.length} checks passed`);
}
const bad = failed + modeFails.length + errors.length + (abort ? 1 : 0) + (bundledGpuJs ? 0 : 1);
console.log(`  wall time ${elapsed()}`);
console.log(`browser: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(bad > 0 || checks.length === 0 ? 1 : 0);
