// Page-side checks of the teaching page (bundled by web.ts, injected before the page's own script):
// records console errors and uncaught errors from the start, then drives the page as a reader would
// (re-roll, open a report.json, train a tiny run, stop and resume) and checks what it shows. Each
// result is POSTed to web.ts as one event. Written against the DOM lib (web/tsconfig.json).
// `?isolated=1|0`: whether web.ts served the page cross-origin isolated (then the CPU run must use
// `?threads=N` threads and split jobs over them, from `?splitFrom=M` multiply-adds; else one thread). `?only=cpu`: only the CPU run's checks.

import type { Event } from './entry.ts';

const MODE = 'page';
let sending: Promise<unknown> = Promise.resolve();
const send = (e: Event): Promise<unknown> =>
  (sending = sending.then(() => fetch('/event', { method: 'POST', body: JSON.stringify(e), keepalive: true }).catch(() => undefined)));
const text = (e: unknown) => (e instanceof Error ? `${e.name}: ${e.message}` : String(e));

// ---- console errors, from the first line on ----------------------------------------------------
const consoleErrors: string[] = [];
for (const level of ['error', 'warn'] as const) {
  const orig = console[level].bind(console);
  console[level] = (...a: unknown[]) => {
    consoleErrors.push(`console.${level}: ${a.map(text).join(' ')}`);
    orig(...a);
  };
}
addEventListener('error', (e) => consoleErrors.push(`uncaught: ${e.message}`));
addEventListener('unhandledrejection', (e) => consoleErrors.push(`unhandled rejection: ${text(e.reason)}`));

// ---- helpers -----------------------------------------------------------------------------------
const $ = <T extends HTMLElement>(sel: string): T => {
  const el = document.querySelector<T>(sel);
  if (!el) throw new Error(`no element ${sel}`);
  return el;
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, ok: () => boolean, timeoutMs: number, state?: () => string): Promise<void> {
  const t0 = performance.now();
  while (!ok()) {
    if (performance.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}${state ? ` (${state()})` : ''}`);
    await sleep(100);
  }
}
function assert(cond: unknown, msg: string): asserts cond {
  if (!cond) throw new Error(msg);
}
const pixels = (sel: string): Uint8ClampedArray => {
  const c = $<HTMLCanvasElement>(sel);
  assert(c.width > 0 && c.height > 0, `${sel} is not drawn (${c.width}×${c.height})`);
  return c.getContext('2d')!.getImageData(0, 0, c.width, c.height).data;
};
const distinctColours = (d: Uint8ClampedArray) =>
  new Set(Array.from({ length: d.length / 4 }, (_, i) => (d[4 * i] << 16) | (d[4 * i + 1] << 8) | d[4 * i + 2])).size;
const same = (a: Uint8ClampedArray, b: Uint8ClampedArray) => a.length === b.length && a.every((v, i) => v === b[i]);
const cells = (sel: string) => [...document.querySelectorAll(`${sel} td`)].map((td) => td.textContent ?? '');

async function check(name: string, fn: () => Promise<string | undefined> | string | undefined): Promise<void> {
  const t0 = performance.now();
  try {
    const msg = await fn();
    await send({ type: 'check', mode: MODE, name, ok: true, msg: msg ?? '', ms: performance.now() - t0 });
  } catch (e) {
    await send({ type: 'check', mode: MODE, name, ok: false, msg: text(e), ms: performance.now() - t0 });
  }
}

// ---- the checks --------------------------------------------------------------------------------
/** The tiny run's settings (`?settings=` overrides them, e.g. to time the page's default run). */
/** The settings of the fixture's run (`lad experiment --preset quick --seeds 2 --set size=24,data.train=96,...`). */
const TINY =
  new URLSearchParams(location.search).get('settings') ??
  'size=24 data.train=96 data.val=24 eval.limit=24 baseline.iterations=80 teacher.iterations=12 student.iterations=12';
const FIXTURE_SETTINGS = !new URLSearchParams(location.search).has('settings');

/** GPU modes whose absence fails instead of skipping (`?require=webgpu`). */
const REQUIRE = (new URLSearchParams(location.search).get('require') ?? '').split(',');
const ISOLATED = new URLSearchParams(location.search).get('isolated') === '1',
  THREADS = ISOLATED ? Number(new URLSearchParams(location.search).get('threads') ?? 2) : 1,
  ONLY_CPU = new URLSearchParams(location.search).get('only') === 'cpu';

async function main(): Promise<void> {
  await until(
    'the page to be ready (body[data-ready])',
    () => document.body?.dataset.ready === '1' || /error/.test(document.getElementById('status')?.innerHTML ?? ''),
    60_000,
  );
  assert(document.body.dataset.ready === '1', `the page failed: ${$('#status').textContent}`);
  if (!ONLY_CPU) await sections();
  const select = $<HTMLSelectElement>('#train-backend');
  const status = () => $('#train-status').textContent ?? '';
  const start = (backend: string) => {
    select.value = backend;
    assert(select.value === backend, `the backend menu has no '${backend}'`);
    $<HTMLInputElement>('#train-settings').value = TINY;
    $<HTMLButtonElement>('#train-start').click();
  };
  await check('4. train (cpu): stop holds the step, resume continues', async () => {
    start('cpu');
    await until('the first steps', () => /step [3-9]/.test(status()) || /error/.test($('#train-status').innerHTML), 120_000, status);
    $<HTMLButtonElement>('#train-pause').click();
    await sleep(300);
    const held = status();
    await sleep(1500);
    assert(status() === held, `the run went on while stopped: '${held}' → '${status()}'`);
    $<HTMLButtonElement>('#train-pause').click();
    await until('a step after resume', () => status() !== held, 10_000, status);
    return `${$('#train-device').textContent}; ${held}`;
  });
  await trainChecks(status);
  if (!ONLY_CPU) await gpuChecks(start, status);
  await check('page: no console error', () => {
    assert(consoleErrors.length === 0, consoleErrors.join('\n'));
    return undefined;
  });
}

/** Sections 1-3, 5 and 6. */
async function sections(): Promise<void> {
  await check('1. data: image and label map drawn', () => {
    const img = pixels('#data-image'),
      lab = pixels('#data-label');
    assert(distinctColours(img) > 50, `the image has ${distinctColours(img)} colours`);
    assert(distinctColours(lab) >= 3, `the label map has ${distinctColours(lab)} colours (background, a digit, ignore expected)`);
    return `${$<HTMLCanvasElement>('#data-image').width}px wide`;
  });
  await check('2. noising: channels drawn, codes tabled', () => {
    pixels('#enc-fixed');
    const codes = cells('#enc-codes');
    assert(codes.length === 2 * 6, `codes table has ${codes.length} cells, expected 2 rows of label + K+1 = 5 codes`);
    return `codes ${codes.slice(1, 6).join(' ')}`;
  });
  await check('2. noising: re-roll changes the label channel, not the fixed code', () => {
    const [before, fixedBefore, codesBefore] = [pixels('#enc-random'), pixels('#enc-fixed'), cells('#enc-codes').join()];
    $<HTMLButtonElement>('#reroll').click();
    const [after, fixedAfter] = [pixels('#enc-random'), pixels('#enc-fixed')];
    assert(!same(before, after), 'the random-code channel has the same pixels after re-roll');
    assert(same(fixedBefore, fixedAfter), 'the fixed-code channel changed on re-roll');
    assert(cells('#enc-codes').join() !== codesBefore, 'the code table did not change on re-roll');
    const n = before.filter((v, i) => v !== after[i]).length;
    return `${n} of ${before.length} channel bytes changed`;
  });
  await check('3. two paths: 7 maps and finite loss terms; the map sums to cons', () => {
    const canvases = document.querySelectorAll('#paths-grid canvas');
    assert(canvases.length === 7, `${canvases.length} maps, expected 2 paths × (channel, prediction, CE) + consistency`);
    const rows = [...document.querySelectorAll('#paths-terms tr')].slice(1).map((tr) => Number(tr.children[1].textContent));
    assert(rows.length === 5 && rows.every(Number.isFinite), `terms (CE, CE, aux, cons, total): ${rows.join(', ')}`);
    const consText = document.querySelectorAll('#paths-terms tr')[4].textContent ?? '';
    const sum = Number(/sums to ([\d.e-]+)/.exec(consText)?.[1]);
    assert(Math.abs(sum - rows[3]) <= 1e-3 * Math.max(1, rows[3]), `consistency ${rows[3]} (consistencyLoss) but its per-pixel map sums to ${sum}`);
    return `ce1 ${rows[0]}, ce2 ${rows[1]}, aux ${rows[2]}, cons ${rows[3]}, total ${rows[4]}`;
  });
  await check('6. code: locations and snippets', () => {
    const items = document.querySelectorAll('#code-list details');
    assert(items.length >= 10, `${items.length} code entries`);
    const refs = [...document.querySelectorAll('.code[data-fn]')].map((p) => p.textContent ?? '');
    assert(refs.length >= 6 && refs.every((t) => /packages\/lad\/src\/[\w/-]+\.ts:\d+/.test(t)), `section code references: ${refs.join(' | ')}`);
    return refs[0];
  });
  await check('5. run viewer: report.json fixture shows its numbers', async () => {
    const json = await (await fetch('/fixtures/report.json')).text();
    const report = JSON.parse(json) as { points: { arms: Record<string, { mIoU: { mean: number; std: number }; perSeed: { mIoU: number }[] }> }[] };
    const dt = new DataTransfer();
    dt.items.add(new File([json], 'report.json', { type: 'application/json' }));
    const input = $<HTMLInputElement>('#runs-file');
    input.files = dt.files;
    input.dispatchEvent(new Event('change'));
    await until('the report tables', () => document.querySelectorAll('#runs-view table').length >= 3, 5000);
    const shown = $('#runs-view').textContent ?? '';
    const arms = Object.entries(report.points[0].arms);
    // each arm's row of "Every arm": its name, then (after what it is and its input) mIoU mean ± std, then the per-seed values
    const rows = [...document.querySelectorAll('#runs-view tr')].map((tr) => [...tr.children].map((td) => td.textContent ?? ''));
    const wrong = arms.filter(
      ([name, a]) =>
        !rows.some(
          (r) =>
            r[0] === name && r[3] === `${a.mIoU.mean.toFixed(1)} ± ${a.mIoU.std.toFixed(1)}` && r[5] === a.perSeed.map((s) => s.mIoU.toFixed(1)).join(', '),
        ),
    );
    assert(wrong.length === 0, `no row with the mIoU and per-seed values of ${wrong.map(([n]) => n).join(', ')}`);
    assert(/Teacher diagnostics/.test(shown) && /Label usage/.test(shown), 'no label-usage or diagnostics section');
    return `${document.querySelectorAll('#runs-view table').length} tables, ${arms.length} arms`;
  });
  await check('5. run viewer: a run folder shows its example grid', async () => {
    const dt = new DataTransfer();
    for (const [name, type] of [
      ['report.json', 'application/json'],
      ['examples.png', 'image/png'],
    ]) {
      dt.items.add(new File([await (await fetch(`/fixtures/${name}`)).blob()], name, { type }));
    }
    const input = $<HTMLInputElement>('#runs-dir');
    input.files = dt.files;
    input.dispatchEvent(new Event('change'));
    await until('the example grid', () => !!document.querySelector<HTMLImageElement>('#runs-view img[alt="examples.png"]')?.naturalWidth, 5000);
    const img = $<HTMLImageElement>('#runs-view img[alt="examples.png"]');
    assert(document.querySelectorAll('#runs-view table').length >= 3, 'no report tables next to the grid');
    return `examples.png ${img.naturalWidth}×${img.naturalHeight}`;
  });
  await check("5. run viewer: a run folder's checkpoint predicts, and scores report.json's mIoU", async () => {
    const dir = '/fixtures/ckpt-run';
    const report = (await (await fetch(`${dir}/report.json`)).json()) as {
      points: { arms: Record<string, { perSeed: { seed: number; mIoU: number }[] }> }[];
    };
    const dt = new DataTransfer();
    for (const name of ['report.json', 'ckpt-00000020.safetensors']) dt.items.add(new File([await (await fetch(`${dir}/${name}`)).blob()], name));
    const input = $<HTMLInputElement>('#runs-dir');
    input.files = dt.files;
    input.dispatchEvent(new Event('change'));
    await until(
      'the checkpoint scored',
      () => !!document.querySelector<HTMLElement>('#runs-ckpt')?.dataset.miou || /error/.test($('#runs-view').innerHTML),
      30_000,
    );
    const box = $('#runs-ckpt'),
      caption = $('#runs-ckpt .caption').textContent ?? '';
    assert(box.dataset.miou, `no score: ${caption}`);
    assert(box.querySelectorAll('option').length === 1, `${box.querySelectorAll('option').length} checkpoints listed, expected 1`);
    const cli = report.points[0].arms.control.perSeed.find((s) => s.seed === 0)!.mIoU;
    assert(Number(box.dataset.miou) === cli, `the checkpoint scores ${box.dataset.miou} here, report.json says ${cli}`);
    // the prediction beats "everything is background" on the shown image: more pixels agree with the ground truth
    const [label, pred] = [pixels('#runs-ckpt canvas.label'), pixels('#runs-ckpt canvas.pred')];
    const colour = (d: Uint8ClampedArray, i: number) => (d[4 * i] << 16) | (d[4 * i + 1] << 8) | d[4 * i + 2];
    const n = label.length / 4,
      counts = new Map<number, number>();
    for (let i = 0; i < n; i++) counts.set(colour(label, i), (counts.get(colour(label, i)) ?? 0) + 1);
    const background = Math.max(...counts.values()) / n;
    let agree = 0;
    for (let i = 0; i < n; i++) agree += colour(label, i) === colour(pred, i) ? 1 : 0;
    assert(
      agree / n > background,
      `the prediction agrees on ${((100 * agree) / n).toFixed(1)}% of pixels, all-background would on ${(100 * background).toFixed(1)}%`,
    );
    return `${caption} Agrees on ${((100 * agree) / n).toFixed(1)}% of pixels (background ${(100 * background).toFixed(1)}%).`;
  });
}

/** The CPU run (started by the stop/resume check) to its end: its loss, diagnostics, bits and threads. */
async function trainChecks(status: () => string): Promise<void> {
  await check('4. train (cpu): the tiny run lowers its loss, predicts, and tables the diagnostics', async () => {
    await until('the run to finish', () => $('#train').dataset.done === '1' || /error/.test($('#train-status').innerHTML), 300_000, status);
    assert($('#train').dataset.done === '1', `the run failed: ${status()}`);
    const stages = [...document.querySelectorAll('#train-stages tr[data-stage]')].map((tr) => ({
      name: (tr as HTMLElement).dataset.stage,
      first: Number(tr.querySelector('.first')!.textContent),
      last: Number(tr.querySelector('.last')!.textContent),
      mIoU: Number(tr.querySelector('.miou')!.textContent),
    }));
    assert(stages.map((s) => s.name).join() === 'baseline-start,control,teacher-lad,student-lad', `stages: ${stages.map((s) => s.name).join()}`);
    const b = stages[0];
    assert(b.last < b.first, `baseline loss did not go down: first 5 steps ${b.first}, last 5 ${b.last}`);
    assert(
      stages.every((s) => s.mIoU >= 0 && s.mIoU <= 100),
      `mIoU: ${stages.map((s) => s.mIoU).join(', ')}`,
    );
    const head = [...document.querySelectorAll('#train-diag th')].map((th) => th.textContent).join('|');
    assert(head === "teacher|own labels|zeros|another image's|fixed code|agreement (%)|verdict", `diagnostics columns: ${head}`);
    const row = cells('#train-diag');
    assert(row[0] === 'teacher-lad' && row.slice(1, 6).every((c) => Number.isFinite(Number(c))), `diagnostics row: ${row.join(' | ')}`);
    assert(distinctColours(pixels('#train-pred')) >= 1, 'no prediction drawn');
    assert(/trained in section 4/.test($('#paths-teacher').textContent ?? ''), `section 3's teacher: ${$('#paths-teacher').textContent}`);
    const ce = [...document.querySelectorAll('#paths-terms tr')].slice(1, 3).map((tr) => Number(tr.children[1].textContent));
    assert(
      ce.every((v) => v < 1.3),
      `section 3 with the trained teacher: CE ${ce.join(', ')}, expected below the untrained ln 4 = 1.386`,
    );
    return `section 3's CE with the trained teacher ${ce.join(', ')}; baseline loss ${b.first.toFixed(3)} → ${b.last.toFixed(3)}; mIoU ${stages.map((s) => `${s.name} ${s.mIoU}`).join(', ')}; ${status()}`;
  });
  await check("4. train (cpu): the same numbers as the CLI (the fixture's seed 0: final loss and val mIoU of each arm)", async () => {
    if (!FIXTURE_SETTINGS) return 'SKIP: ?settings= differs from the fixture run';
    const report = (await (await fetch('/fixtures/report.json')).json()) as {
      points: { arms: Record<string, { perSeed: { seed: number; finalLoss: number; mIoU: number }[] }> }[];
    };
    const diffs = [...document.querySelectorAll<HTMLElement>('#train-stages tr[data-stage]')].map((tr) => {
      const cli = report.points[0].arms[tr.dataset.stage!]!.perSeed.find((p) => p.seed === 0)!;
      return { name: tr.dataset.stage!, loss: [Number(tr.dataset.finalLoss), cli.finalLoss], mIoU: [Number(tr.dataset.miou), cli.mIoU] };
    });
    const off = diffs.filter((d) => d.loss[0] !== d.loss[1] || d.mIoU[0] !== d.mIoU[1]);
    assert(
      off.length === 0,
      off.map((d) => `${d.name}: final loss page ${d.loss[0]} vs CLI ${d.loss[1]}, mIoU page ${d.mIoU[0]} vs CLI ${d.mIoU[1]}`).join('; '),
    );
    return `bit-identical: ${diffs.map((d) => `${d.name} ${d.loss[0].toFixed(6)} / ${d.mIoU[0].toFixed(2)}`).join(', ')}`;
  });
  await check(`4. train (cpu): ${THREADS} thread${THREADS > 1 ? 's' : ''} (cross-origin isolated: ${ISOLATED})`, () => {
    assert(crossOriginIsolated === ISOLATED, `crossOriginIsolated is ${crossOriginIsolated}: the server's headers did not take`);
    const { threads, parallelJobs } = $('#train').dataset;
    assert(Number(threads) === THREADS, `the run used ${threads} threads (${$('#train-device').textContent})`);
    assert(THREADS > 1 ? Number(parallelJobs) > 0 : Number(parallelJobs) === 0, `${parallelJobs} jobs split over the threads`);
    return `${$('#train-device').textContent}; ${parallelJobs} jobs split over the threads`;
  });
}

/** The GPU backends: the worker starts a run. */
async function gpuChecks(start: (backend: string) => void, status: () => string): Promise<void> {
  // The GPU backend on SwiftShader compiles its shaders on the CPU: the first training step of the tiny
  // model took 205 s in webgl2, so CI only checks that the worker starts a run on it (and then moves on).
  for (const backend of ['webgl2', 'webgpu']) {
    await check(`4. train (${backend}): the worker starts the run on the GPU backend`, async () => {
      start(backend);
      await until(
        `the worker's device`,
        () => new RegExp(`^gpu, ${backend}`).test($('#train-device').textContent ?? '') || /error/.test($('#train-status').innerHTML),
        60_000,
        status,
      );
      if (/no adapter|no navigator\.gpu|has no WebGL2/.test(status()) && !REQUIRE.includes(backend)) return `SKIP: ${status()}`;
      assert(new RegExp(`^gpu, ${backend}`).test($('#train-device').textContent ?? ''), `the run failed: ${status()}`);
      return `${$('#train-device').textContent}; ${status()}`;
    });
  }
  $<HTMLButtonElement>('#train-pause').click(); // leave the GPU run stopped
}

main()
  .catch((e) => send({ type: 'error', msg: text(e) }))
  .finally(() => send({ type: 'done' }));
