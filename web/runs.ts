// Section 5: a run of `lad experiment` read back from its report.json (or its whole folder). The tables
// are report.md's, made by the same renderReportMd as the CLI (experiment/render.ts) and turned into
// HTML here, with the val mIoU curves of each arm's first seed and, from a folder, the run's example
// grid and plots, and its checkpoints (checkpoints.ts).

import { type ExperimentReport, renderReportMd } from '@lad/lad';
import { plotCurves } from './draw.ts';
import { showCheckpoints } from './checkpoints.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const inline = (s: string) =>
  esc(s)
    .replace(/\*\*(.+?)\*\*/g, '<b>$1</b>')
    .replace(/`([^`]+)`/g, '<code>$1</code>')
    .replace(/\[([^\]]+)\]\([^)]+\)/g, '$1');

/** The markdown of report.md (headings, tables, lists, paragraphs) as HTML. */
export function markdownToHtml(md: string): string {
  const out: string[] = [];
  const lines = md.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i];
    const h = /^(#{1,4}) (.*)$/.exec(l);
    if (h) out.push(`<h${h[1].length + 2}>${inline(h[2])}</h${h[1].length + 2}>`);
    else if (l.startsWith('|')) {
      const rows: string[][] = [];
      for (; i < lines.length && lines[i].startsWith('|'); i++)
        rows.push(
          lines[i]
            .slice(1, -1)
            .split(' | ')
            .map((c) => c.trim()),
        );
      i--;
      const [head, , ...body] = rows;
      out.push(
        `<table><tr>${head.map((c) => `<th>${inline(c)}</th>`).join('')}</tr>${body.map((r) => `<tr>${r.map((c) => `<td>${inline(c)}</td>`).join('')}</tr>`).join('')}</table>`,
      );
    } else if (l.startsWith('- ')) out.push(`<li>${inline(l.slice(2))}</li>`);
    else if (l.trim()) out.push(`<p>${inline(l)}</p>`);
  }
  return out.join('\n');
}

const COLORS = ['#555', '#1b7837', '#762a83', '#e08214', '#b2182b', '#2166ac', '#35978f', '#8c510a'];

/** Shows a parsed report.json: the curves of the first point's first seed, then report.md's tables. */
export function showReport(text: string, where: HTMLElement): ExperimentReport {
  const r = JSON.parse(text) as ExperimentReport;
  if (r.version !== 2 || !Array.isArray(r.points)) throw new Error(`not a report.json of lad experiment (version ${String(r.version)}, expected 2)`);
  where.innerHTML = '<canvas width="520" height="220"></canvas>' + markdownToHtml(renderReportMd(r));
  const arms = Object.entries(r.points[0].arms);
  plotCurves(
    where.querySelector('canvas')!,
    arms.map(([name, a], i) => ({ name, color: COLORS[i % COLORS.length], points: a!.perSeed[0].curve })),
  );
  return r;
}

/** A run folder picked whole: its report.json shown, then the example grid and the plots it names, then its checkpoints. */
export async function showRunFolder(files: readonly File[], where: HTMLElement): Promise<ExperimentReport> {
  const path = (f: File) => f.webkitRelativePath || f.name; // folder picker: "run/report.json"; a plain drop: the name
  const depth = (f: File) => path(f).split('/').length;
  const json = files.filter((f) => path(f).endsWith('report.json')).sort((a, b) => depth(a) - depth(b))[0];
  if (!json) throw new Error(`no report.json among the ${files.length} files picked`);
  const r = showReport(await json.text(), where);
  const dir = path(json).slice(0, -'report.json'.length);
  for (const name of [r.files.examples, ...r.files.plots].filter((n): n is string => !!n)) {
    const f = files.find((x) => path(x) === dir + name);
    if (!f) continue;
    const fig = document.createElement('figure');
    fig.innerHTML = `<img alt="${esc(name)}" style="max-width: 100%"><figcaption>${esc(name)}</figcaption>`;
    fig.querySelector('img')!.src = URL.createObjectURL(f);
    where.append(fig);
  }
  const ckpts = files.filter((f) => /ckpt-\d+\.safetensors$/.test(f.name)).map((file) => ({ file, path: path(file) }));
  if (ckpts.length > 0) showCheckpoints(ckpts, r, where);
  return r;
}
