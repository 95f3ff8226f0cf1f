// Builds the page into web/dist (`pnpm web:build`), or builds, watches and serves it (`pnpm web`;
// the bundles rebuild on change, index.html is copied at start; served by serve.ts, with the
// cross-origin isolation headers that let the CPU backend use more than one thread).
// A static host should send the same two headers (Cross-Origin-Opener-Policy: same-origin,
// Cross-Origin-Embedder-Policy: require-corp; `_headers` lists them for hosts that read that file):
// without them the page works, and trains on one thread.
// esbuild bundles main.ts and worker.ts for the browser; index.html is copied; the `mnist`
// package's digit files of the quick preset's classes are copied to mnist/<d>.json (the page fetches
// them); code.json indexes where the functions the page names live (file, line, first lines).
// Set LAD_REPO_URL (e.g. https://github.com/OWNER/REPO/blob/main) to make those locations links.
// Options: --serve (watch + serve; prints the URL), --port N (default 8000), --out DIR (default web/dist).

import { copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, context } from 'esbuild';
import { QUICK } from '../packages/lad/src/presets.ts';
import { ISOLATION_HEADERS, serveStatic } from './serve.ts';

const web = dirname(fileURLToPath(import.meta.url)),
  root = dirname(web);
const args = process.argv.slice(2);
const opt = (name: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const out = opt('--out') ?? join(web, 'dist');
mkdirSync(join(out, 'mnist'), { recursive: true });

// ---- static files ------------------------------------------------------------------------------
copyFileSync(join(web, 'index.html'), join(out, 'index.html'));
writeFileSync(
  join(out, '_headers'),
  `/*\n${Object.entries(ISOLATION_HEADERS)
    .map(([k, v]) => `  ${k}: ${v}\n`)
    .join('')}`,
);
const mnist = dirname(createRequire(join(root, 'packages/lad/package.json')).resolve('mnist/package.json'));
const classes = QUICK.data.kind === 'digits-seg' ? (QUICK.data.options?.classes ?? []) : [];
for (const d of classes) copyFileSync(join(mnist, 'src', 'digits', `${d}.json`), join(out, 'mnist', `${d}.json`));

// ---- code.json: where the functions live --------------------------------------------------------
const FUNCTIONS = [
  'DigitsSeg',
  'codeTable',
  'fixedGrid',
  'encodeLabels',
  'teacherLoss',
  'segLoss',
  'consistencyLoss',
  'channelWiseDistillation',
  'studentLoss',
  'baselineLoss',
  'evaluate',
  'encodingAgreement',
  'teacherVerdict',
  'runUnit',
  'renderReportMd',
];
const sources = (dir: string): string[] =>
  readdirSync(dir).flatMap((f) => (statSync(join(dir, f)).isDirectory() ? sources(join(dir, f)) : f.endsWith('.ts') ? [join(dir, f)] : []));
const files = sources(join(root, 'packages/lad/src')).map((f) => ({ file: relative(root, f), lines: readFileSync(f, 'utf8').split('\n') }));
const base = process.env.LAD_REPO_URL?.replace(/\/$/, '') ?? null;
const index: Record<string, { file: string; line: number; lines: string[]; url: string | null }> = {};
for (const name of FUNCTIONS) {
  const re = new RegExp(`^export (async )?(function|class) ${name}\\b`);
  const hit = files.flatMap(({ file, lines }) => lines.map((l, i) => (re.test(l) ? { file, lines, i } : null))).find((h) => h !== null);
  if (!hit) throw new Error(`web/build.ts: no 'export function|class ${name}' in packages/lad/src: update FUNCTIONS`);
  const end = hit.lines.findIndex((l, j) => j > hit.i && l.startsWith('}'));
  index[name] = {
    file: hit.file,
    line: hit.i + 1,
    lines: hit.lines.slice(hit.i, Math.min(end + 1, hit.i + 40)),
    url: base ? `${base}/${hit.file}#L${hit.i + 1}` : null,
  };
}
writeFileSync(join(out, 'code.json'), JSON.stringify(index, null, 1));

// ---- the bundles --------------------------------------------------------------------------------
const options: BuildOptions = {
  entryPoints: [join(web, 'main.ts'), join(web, 'worker.ts')],
  outdir: out,
  bundle: true,
  format: 'esm',
  platform: 'browser', // gpu.js resolves to its browser build; a node: import would fail the build
  target: 'chrome120',
  sourcemap: true,
  logLevel: 'warning',
};
if (args.includes('--serve')) {
  const ctx = await context(options);
  await ctx.watch();
  const url = await serveStatic(out, Number(opt('--port') ?? 8000));
  console.log(`web: serving ${relative(root, out)} at ${url} (cross-origin isolated; the scripts rebuild on change; Ctrl-C to stop)`);
} else {
  await build(options);
  console.log(`web: built ${relative(root, out)}/ (index.html, main.js, worker.js, code.json, mnist/${classes.join(',')}.json, _headers)`);
}
