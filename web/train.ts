// Section 4's controls and live view: starts the worker (worker.ts) with the CLI-style settings,
// plots the loss of each stage, shows the live prediction on the fixed val image, steps/s, the
// stages' val mIoU, and the teacher diagnostics table in the columns `lad experiment` prints.

import { fmtStat, stat } from '@lad/lad';
import { type Curve, drawImage, drawLabels, plotCurves } from './draw.ts';
import type { Backend, DiagRow, FromWorker, ToWorker } from './worker.ts';

const $ = <T extends HTMLElement>(id: string): T => document.getElementById(id) as T;
const fmt = (v: number) => (Number.isFinite(v) ? v.toFixed(4) : '…');
const COLORS: Record<string, string> = { 'baseline-start': '#555', 'teacher-lad': '#b2182b', 'student-lad': '#2166ac', control: '#1b7837' };

export interface TrainView {
  worker: Worker | null;
  curves: Map<string, Curve>;
  stages: Map<string, { iterations: number; stepsPerSec: number; mIoU: number | null; finalLoss: number | null }>;
}

/** The mean loss of the first and the last 5 steps of a curve (one step's loss is noisy). */
const ends = (c: Curve): [number, number] =>
  [c.points.slice(0, 5), c.points.slice(-5)].map((ps) => ps.reduce((a, p) => a + p[1], 0) / ps.length) as [number, number];

/** The diagnostics table of render.ts (report.md's "Teacher diagnostics"), for one seed. */
export function diagnosticsTable(rows: DiagRow[]): string {
  const s = (v: number) => fmtStat(stat([v]));
  const word = (r: DiagRow) => (r.verdict.ignoresLabels ? '<b>ignores its labels</b>' : r.verdict.usesLabels ? 'uses its labels' : 'no gain from its labels');
  return (
    "<table><tr><th>teacher</th><th>own labels</th><th>zeros</th><th>another image's</th><th>fixed code</th><th>agreement (%)</th><th>verdict</th></tr>" +
    rows
      .map(
        (r) =>
          `<tr><td>${r.teacher}</td><td>${s(r.encoded)}</td><td>${s(r.zeros)}</td><td>${s(r.otherImage)}</td><td>${s(r.fixedCode)}</td><td>${s(r.agreement)}</td><td>${word(r)}</td></tr>`,
      )
      .join('') +
    '</table>' +
    rows.map((r) => `<p><b>${r.teacher}</b>: ${r.verdict.text}</p>`).join('')
  );
}

/** `onTeacher`: called with the trained LAD teacher's weights when its stage ends. */
export function setupTraining(onTeacher: (m: Extract<FromWorker, { type: 'teacher' }>) => void): TrainView {
  const view: TrainView = { worker: null, curves: new Map(), stages: new Map() };
  let K = 0,
    H = 0,
    W = 0,
    offset = 0,
    paused = false;
  const start = $<HTMLButtonElement>('train-start'),
    pause = $<HTMLButtonElement>('train-pause'),
    status = $('train-status');
  const stagesTable = () => {
    $('train-stages').innerHTML =
      '<tr><th>stage</th><th>iterations</th><th>loss, first 5 steps</th><th>loss, last 5 steps</th><th>steps/s</th><th>val mIoU</th></tr>' +
      [...view.stages]
        .map(([n, s]) => {
          const [first, last] = ends(view.curves.get(n)!);
          return `<tr data-stage="${n}" data-miou="${s.mIoU}" data-final-loss="${s.finalLoss}"><td>${n}</td><td>${s.iterations}</td><td class="first">${fmt(first)}</td><td class="last">${fmt(last)}</td><td>${s.stepsPerSec.toFixed(1)}</td><td class="miou">${s.mIoU === null ? '…' : s.mIoU.toFixed(1)}</td></tr>`;
        })
        .join('');
  };
  const onMessage = (m: FromWorker) => {
    switch (m.type) {
      case 'config':
        [K, H, W] = [m.K, m.H, m.W];
        drawImage($('train-image'), m.image, W, H);
        drawLabels($('train-label'), m.label, W, H, K);
        $('train-device').textContent = m.device;
        status.textContent = `running: ${m.text}`;
        break;
      case 'stage':
        offset = [...view.curves.values()].reduce((n, c) => n + c.points.length, 0);
        view.curves.set(m.stage, { name: m.stage, color: COLORS[m.stage] ?? '#000', points: [] });
        view.stages.set(m.stage, { iterations: m.iterations, stepsPerSec: 0, mIoU: null, finalLoss: null });
        break;
      case 'step': {
        view.curves.get(m.stage)!.points.push([offset + m.step, m.loss]);
        view.stages.get(m.stage)!.stepsPerSec = m.stepsPerSec;
        plotCurves($('train-plot'), [...view.curves.values()]);
        stagesTable();
        status.textContent = `${m.stage}: step ${m.step}, loss ${m.loss.toFixed(4)}, ${m.stepsPerSec.toFixed(1)} steps/s`;
        break;
      }
      case 'pred':
        drawLabels($('train-pred'), m.pred, W, H, K);
        $('train-pred-cap').textContent = `${m.stage}, step ${m.step}${m.stage === 'teacher-lad' ? ' (sees the fixed code)' : ''}`;
        break;
      case 'eval':
        Object.assign(view.stages.get(m.stage)!, { mIoU: m.mIoU, finalLoss: m.finalLoss });
        stagesTable();
        break;
      case 'diagnostics':
        $('train-diag').innerHTML =
          `<h3>Teacher diagnostics</h3><p>Val mIoU of the teacher with its own labels (random codes), zeros, another image's labels, and the fixed code the student sees; agreement: % of labelled pixels on which two random encodings give the same prediction.</p>${diagnosticsTable(m.rows)}`;
        break;
      case 'teacher':
        onTeacher(m);
        break;
      case 'done':
        status.textContent = `done in ${m.seconds.toFixed(0)} s`;
        Object.assign($('train').dataset, { done: '1', threads: m.threads, parallelJobs: m.parallelJobs });
        pause.disabled = true;
        break;
      case 'error':
        status.innerHTML = `<span class="error">${m.msg}</span>`;
        console.error(`training worker: ${m.msg}`);
        pause.disabled = true;
    }
  };
  start.onclick = () => {
    view.worker?.terminate();
    view.curves.clear();
    view.stages.clear();
    for (const k of ['done', 'threads', 'parallelJobs']) delete $('train').dataset[k];
    $('train-diag').innerHTML = '';
    const settings = $<HTMLInputElement>('train-settings').value.split(/\s+/).filter(Boolean);
    view.worker = new Worker('worker.js', { type: 'module' });
    view.worker.onmessage = (e: MessageEvent<FromWorker>) => onMessage(e.data);
    view.worker.onerror = (e) => onMessage({ type: 'error', msg: e.message });
    const query = new URLSearchParams(location.search);
    const threads = Number(query.get('threads')) || undefined; // ?threads=N (tests, timings)
    const minMacs = Number(query.get('splitFrom')) || undefined; // ?splitFrom=M: split jobs from M multiply-adds (tests: the fixture's jobs are small)
    const msg: ToWorker = { type: 'start', settings, seed: 0, backend: $<HTMLSelectElement>('train-backend').value as Backend, threads, minMacs };
    view.worker.postMessage(msg);
    [pause.disabled, paused] = [false, false]; // train again: the running worker is dropped
    $('train-device').textContent = '';
    pause.textContent = 'stop';
    status.textContent = 'starting…';
  };
  pause.onclick = () => {
    paused = !paused;
    view.worker?.postMessage({ type: paused ? 'pause' : 'resume' });
    pause.textContent = paused ? 'resume' : 'stop';
    if (paused) status.textContent += ' (stopped)';
  };
  return view;
}
