// Section 5's checkpoints: a run folder's ckpt-*.safetensors read with @lad/nn's parseCheckpoint, the
// model rebuilt from the config stored in it (extra.model, as `lad experiment` writes it) and shown
// on the run's first val image (as section 4 shows its live model), with its val mIoU measured as
// the run measured it (armEvaluation): for an arm's last checkpoint, report.json's number exactly.

import { Generator } from '@lad/tensor';
import { parseCheckpoint } from '@lad/nn';
import { type ExperimentReport, type ModelConfig, armEvaluation, buildModel, pct } from '@lad/lad';
import { loadDigits, makeData } from './data.ts';
import { drawImage, drawLabels } from './draw.ts';
import { predictIds, seesLabels } from './predict.ts';

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

/** A picker of the run's checkpoints under the report, showing the first one. */
export function showCheckpoints(ckpts: { file: File; path: string }[], r: ExperimentReport, where: HTMLElement): void {
  const box = document.createElement('div');
  box.id = 'runs-ckpt';
  box.innerHTML =
    `<h3>Checkpoints</h3><p>A model of the run, rebuilt from its checkpoint: <select>${ckpts.map((c, i) => `<option value="${i}">${esc(c.path)}</option>`).join('')}</select></p>` +
    '<figure><canvas class="image"></canvas><figcaption>val image</figcaption></figure><figure><canvas class="label"></canvas><figcaption>ground truth</figcaption></figure>' +
    '<figure><canvas class="pred"></canvas><figcaption>prediction</figcaption></figure><p class="caption"></p>';
  where.append(box);
  const select = box.querySelector('select')!,
    caption = box.querySelector<HTMLElement>('.caption')!;
  const show = () => {
    delete box.dataset.miou;
    caption.textContent = 'loading…';
    showCheckpoint(ckpts[Number(select.value)], r, box).catch((e: unknown) => (caption.innerHTML = `<span class="error">${esc(String(e))}</span>`));
  };
  select.onchange = show;
  show();
}

async function showCheckpoint({ file, path }: { file: File; path: string }, r: ExperimentReport, box: HTMLElement): Promise<void> {
  const ck = parseCheckpoint(new Uint8Array(await file.arrayBuffer()), path);
  const { arm, model: modelJson } = ck.extra;
  const seed = Number(ck.extra.seed ?? /seed-(\d+)\//.exec(path)?.[1]); // older checkpoints name their seed only in the path
  if (!arm || !modelJson) throw new Error(`${path} holds no arm or model config (extra.arm, extra.model): not a checkpoint of lad experiment`);
  if (!Number.isInteger(seed)) throw new Error(`${path}: its seed is not stored in it; pick it inside its run folder (…/seed-N/…)`);
  const p = r.points.find((q) => q.name === (ck.extra.point ?? '')) ?? r.points[0];
  await loadDigits(p.config.data);
  const { val } = makeData(p.config.data);
  const model = buildModel(JSON.parse(modelJson) as ModelConfig, { generator: new Generator(0) });
  model.loadStateDict(ck.model, { strict: true });

  const K = p.dataset.numClasses,
    s = val.get(0);
  const [, H, W] = s.image.shape;
  const canvas = (c: string) => box.querySelector<HTMLCanvasElement>(`canvas.${c}`)!;
  drawImage(canvas('image'), s.image.data() as Float32Array, W, H);
  drawLabels(canvas('label'), s.label.data() as Int32Array, W, H, K);
  drawLabels(canvas('pred'), await predictIds(model, s.image, s.label, K, seesLabels(arm) ? p.config.lad.encodeDistill : null), W, H, K);

  const mIoU = pct((await armEvaluation(p.config, arm as Parameters<typeof armEvaluation>[1], seed, val, p.dataset)(model)).mIoU);
  const row = p.arms[arm as keyof typeof p.arms]?.perSeed.find((x) => x.seed === seed);
  const vsReport = row ? ` (report.json, after its ${row.iterations} steps: ${row.mIoU.toFixed(2)})` : '';
  box.querySelector('.caption')!.textContent =
    `${arm}, seed ${seed}, step ${ck.step}${seesLabels(arm) ? ', seeing its labels under the fixed code' : ''}: val mIoU ${mIoU.toFixed(2)} on ${p.dataset.evalImages} images${vsReport}.`;
  box.dataset.miou = String(mIoU);
}
