// The page's entry: loads the digits, then fills the sections in the order of the method
// (explain.ts: 1-3, train.ts: 4, runs.ts: 5, the code index: 6). `?report=URL` opens a report.json.

import { Generator, Tensor } from '@lad/tensor';
import { QUICK, buildModel, imageStd, resolveLabelScale } from '@lad/lad';
import { loadDigits, makeData } from './data.ts';
import { showNoising, showPaths, showSample, sliderEncoding } from './explain.ts';
import { setupTraining } from './train.ts';
import { showReport, showRunFolder } from './runs.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;

/** Where each function lives, written by web/build.ts from the sources: { name: { file, line, lines } }. */
type CodeIndex = Record<string, { file: string; line: number; lines: string[]; url: string | null }>;

async function showCode(): Promise<void> {
  const index = (await (await fetch('code.json')).json()) as CodeIndex;
  const link = (name: string) => {
    const c = index[name];
    const where = `${c.file}:${c.line}`;
    return c.url ? `<a href="${c.url}"><code>${where}</code></a>` : `<code>${where}</code>`;
  };
  for (const p of document.querySelectorAll<HTMLElement>('.code[data-fn]')) p.innerHTML = `Code: <code>${p.dataset.fn}</code> in ${link(p.dataset.fn!)}`;
  $('code-list').innerHTML = Object.entries(index)
    .map(([name, c]) => `<details><summary><code>${name}</code>, ${link(name)}</summary><pre>${c.lines.join('\n').replace(/</g, '&lt;')}</pre></details>`)
    .join('');
}

async function main(): Promise<void> {
  $('backend').textContent =
    `the CPU backend (a Web Worker trains section 4, on ${crossOriginIsolated ? 'more than one thread' : 'one thread: the page is not cross-origin isolated'})`;
  if (QUICK.data.kind !== 'digits-seg') throw new Error('the page expects the quick preset to draw digits-seg');
  await loadDigits(QUICK.data);
  const { val } = makeData({ ...QUICK.data, train: 1, val: 100 });
  const lad = resolveLabelScale(QUICK.lad, imageStd(val)); // scale 'auto' = 1.7 × the images' std, as the CLI resolves it
  $('status').textContent = `Data: digits-seg, ${val.numClasses} classes (${val.classNames.join(', ')}); label scale 'auto' = ${lad.encodeTrain.scale}.`;

  // 1. the data; 2. the label channel: the sliders keep the code, re-roll draws a new one
  const index = $<HTMLInputElement>('data-index');
  let codeSeed = 1;
  const scale = $<HTMLInputElement>('enc-scale');
  scale.value = String(lad.encodeTrain.scale);
  $<HTMLInputElement>('enc-sigma').value = String(lad.encodeTrain.sigma);
  $<HTMLInputElement>('enc-smooth').value = String(lad.encodeTrain.smoothPasses);
  const redraw = () => {
    const i = Number(index.value);
    showSample(val, i);
    showNoising(val, i, sliderEncoding(lad.encodeTrain), lad.encodeDistill, new Generator(codeSeed));
  };
  for (const id of ['data-index', 'enc-scale', 'enc-sigma', 'enc-smooth']) $(id).oninput = redraw;
  $('reroll').onclick = () => {
    codeSeed++;
    redraw();
  };
  redraw();

  // 3. the two paths of a teacher of the quick preset's model: untrained, until section 4 trains one
  const teacher = buildModel({ ...QUICK.model, inChannels: 4, numClasses: val.numClasses }, { generator: new Generator(0) });
  let pathSeed = 0;
  const paths = () => showPaths(teacher, val, 2, lad, new Generator(++pathSeed));
  $('paths-run').onclick = paths;
  paths();

  setupTraining((m) => {
    try {
      if (m.K !== val.numClasses) throw new Error(`it predicts ${m.K} classes, this section's data has ${val.numClasses}`);
      teacher.loadStateDict(Object.fromEntries(Object.entries(m.state).map(([k, v]) => [k, Tensor.fromData(v.data, v.shape)])));
      $('paths-teacher').textContent = `the LAD teacher trained in section 4 (${m.steps} steps from the baseline)`;
      paths();
    } catch (e) {
      $('paths-teacher').textContent = `untrained (the teacher of section 4 does not fit here: ${String(e)})`;
    }
  });

  // 5. a run's report.json (file picker, or ?report=URL), or its whole folder (with the example grid and plots)
  const view = $('runs-view');
  const open = (text: string) => {
    try {
      showReport(text, view);
    } catch (e) {
      view.innerHTML = `<p class="error">${String(e)}</p>`;
    }
  };
  $<HTMLInputElement>('runs-file').onchange = async (e) => {
    const f = (e.target as HTMLInputElement).files?.[0];
    if (f) open(await f.text());
  };
  $<HTMLInputElement>('runs-dir').onchange = (e) => {
    showRunFolder([...((e.target as HTMLInputElement).files ?? [])], view).catch((err: unknown) => (view.innerHTML = `<p class="error">${String(err)}</p>`));
  };
  const url = new URLSearchParams(location.search).get('report');
  if (url) open(await (await fetch(url)).text());

  await showCode();
  document.body.dataset.ready = '1';
}

main().catch((e: unknown) => {
  $('status').innerHTML = `<span class="error">${String(e)}</span>`;
  console.error(e);
});
