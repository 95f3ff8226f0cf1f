// The teaching page (web/) in headless Chromium: builds it (web/build.ts) into test/browser/out/site,
// serves it with the fixtures (test/browser/fixtures/ at /fixtures/), injects web-check.ts before the page's script, and prints
// one line per check the page reports (sections render, re-roll, run viewer and its checkpoints, a
// tiny training run, no console error). The page is served cross-origin isolated (web/serve.ts's
// headers) and trains on 2 CPU threads; then once more without the headers (under /plain/), where
// it trains on one, to the same bits (web-check.ts's ?only=cpu).
// Then a screenshot of the page with the fixture open: test/browser/out/web.png.
// Exits 1 on any failure. Needs Chromium (`apt-get install -y chromium`). Run: `pnpm test:web`.
// Options: --chromium PATH, --timeout SECONDS (default 400), --verbose (Chromium's stderr),
// --settings 'KNOB=V ...' (the training run's settings instead of the tiny ones, e.g. to time a longer run),
// --threads N (the CPU threads of the isolated run, default 2),
// --require-webgpu (a missing WebGPU adapter fails instead of skipping).

import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromiumPath, eventServer, launchChromium } from './chromium.ts';
import type { Event } from './entry.ts';
import { ISOLATION_HEADERS, TYPES } from '../../web/serve.ts';

const here = dirname(fileURLToPath(import.meta.url)),
  root = join(here, '..', '..');
const args = process.argv.slice(2);
const chromium = chromiumPath(args, 'test:web');
const timeoutS = Number(args.includes('--timeout') ? args[args.indexOf('--timeout') + 1] : 400);
const verbose = args.includes('--verbose');
const started = performance.now();
const out = join(here, 'out'),
  site = join(out, 'site');
mkdirSync(out, { recursive: true });

// ---- build the page and the checks --------------------------------------------------------------
execFileSync(process.execPath, ['--import', 'tsx', join(root, 'web', 'build.ts'), '--out', site], { stdio: 'inherit' });
const check = (
  await build({
    entryPoints: [join(here, 'web-check.ts')],
    bundle: true,
    write: false,
    format: 'iife',
    platform: 'browser',
    target: 'chrome120',
    logLevel: 'warning',
  })
).outputFiles[0].text;

// ---- serve ---------------------------------------------------------------------------------------
const fixtures = join(here, 'fixtures');
const events: Event[] = [];
let finish: (why: string | null) => void = () => {};
const server = await eventServer(
  (req, res) => {
    // under /plain/: the same files without the isolation headers
    const plain = req.url?.startsWith('/plain/') ?? false,
      path = new URL((req.url ?? '/').slice(plain ? '/plain'.length : 0), 'http://x').pathname;
    const headers = { 'Cache-Control': 'no-store', ...(plain ? {} : ISOLATION_HEADERS) };
    const send = (body: string | Buffer, type: string) => res.writeHead(200, { 'Content-Type': type, ...headers }).end(body);
    if (path === '/web-check.js') send(check, 'text/javascript');
    else if (path === '/' && req.url?.includes('check=1'))
      send(readFileSync(join(site, 'index.html'), 'utf8').replace('<head>', '<head><script src="/web-check.js"></script>'), 'text/html');
    else {
      const [dir, rel] = path.startsWith('/fixtures/') ? [fixtures, path.slice('/fixtures'.length)] : [site, path === '/' ? '/index.html' : path];
      const file = join(dir, normalize(rel));
      if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) return false;
      send(readFileSync(file), TYPES[extname(file)] ?? 'application/octet-stream');
    }
    return true;
  },
  (raw) => {
    const e = raw as Event;
    events.push(e);
    if (e.type === 'check')
      console.log(`${e.ok ? (e.msg.startsWith('SKIP') ? 'SKIP' : 'PASS') : 'FAIL'}  ${e.name.padEnd(80)} ${(e.ms / 1000).toFixed(1).padStart(6)} s  ${e.msg}`);
    else if (e.type === 'error') console.log(`ERROR ${e.msg}`);
    else if (e.type === 'done') finish(null);
  },
);

// ---- the checks ----------------------------------------------------------------------------------
console.log(`test:web: ${chromium}, ${server.url}`);
const param = (flag: string, name: string) => (args.includes(flag) ? `&${name}=${encodeURIComponent(args[args.indexOf(flag) + 1])}` : '');
const query = `?check=1${param('--settings', 'settings')}${args.includes('--require-webgpu') ? '&require=webgpu' : ''}`;

/** Opens the page at `path` + `query` and waits for its checks; returns why it stopped early, or null. */
async function pass(path: string, query: string): Promise<string | null> {
  console.log(`-- ${path}${query}`);
  const finished = new Promise<string | null>((r) => (finish = r)),
    stop = finish; // this pass's (a closed Chromium's exit must not end the next pass)
  const browser = launchChromium(chromium, server.url + path.slice(1) + query, { verbose });
  void browser.exited.then((why) => stop(`${why} early`));
  const timer = setTimeout(() => stop(`timed out after ${timeoutS} s`), timeoutS * 1000);
  const abort = await finished;
  clearTimeout(timer);
  await browser.close();
  if (abort) {
    console.log(`ERROR ${abort}`);
    if (!verbose) console.log(browser.stderr().split('\n').slice(-30).join('\n'));
  }
  return abort;
}
const aborts = [
  // splitFrom: the fixture's 24x24 jobs are under the default split size (setSplitMacs); split them anyway
  await pass('/', `${query}&isolated=1&splitFrom=${1 << 20}&threads=${args.includes('--threads') ? args[args.indexOf('--threads') + 1] : 2}`),
  await pass('/plain/', `${query}&isolated=0&only=cpu`),
].filter((a) => a !== null);

// ---- a screenshot with the fixture open ----------------------------------------------------------
const shot = join(out, 'web.png');
const snap = launchChromium(chromium, `${server.url}?report=fixtures/report.json`, {
  verbose,
  flags: [`--screenshot=${shot}`, '--window-size=1040,5000', '--virtual-time-budget=30000', '--hide-scrollbars'],
});
await Promise.race([snap.exited, new Promise((r) => setTimeout(r, 60_000))]);
await snap.close();
server.close();
const shotOk = existsSync(shot) && statSync(shot).size > 10_000;
console.log(`${shotOk ? 'PASS' : 'FAIL'}  screenshot ${shot}${shotOk ? ` (${(statSync(shot).size / 1024).toFixed(0)} KiB)` : ''}`);

// ---- summary -------------------------------------------------------------------------------------
const checks = events.filter((e) => e.type === 'check');
const passed = checks.filter((c) => c.ok).length + (shotOk ? 1 : 0),
  failed = checks.length - checks.filter((c) => c.ok).length + (shotOk ? 0 : 1);
const errors = events.filter((e) => e.type === 'error').length + aborts.length;
console.log(`  wall time ${((performance.now() - started) / 1000).toFixed(1)} s`);
console.log(`web: ${passed} passed, ${failed} failed${errors ? `, ${errors} errors` : ''}`);
process.exit(failed + errors > 0 || checks.length < 20 ? 1 : 0); // 20: the checks of both passes
