// `lad eval --checkpoint CKPT`: rebuilds the model from the run config stored in the checkpoint,
// evaluates it on the val split (or --split train) of its dataset (or --dataset), and prints the
// per-class table and the summary (lad-method.md §2.6). --label-mode picks the 4th channel.

import { buildModel } from '../models/build.ts';
import { evaluate, type LabelMode } from '../evaluate.ts';
import { UsageError, formatFlags, intFlag, parseFlags, type FlagSpec, type CommandRun } from './args.ts';
import { asUsage, checkDevice, checkModelConfig, loadDatasets } from './run-config.ts';
import { validateLadConfig } from '../validate.ts';
import { DEVICE_FLAGS, withDevice } from './device.ts';
import { loadWeights, readCheckpoint } from './train.ts';

const MODES: readonly LabelMode[] = ['zeros', 'encoded', 'otherImage'];

const FLAGS: FlagSpec = {
  checkpoint: { type: 'string', value: 'CKPT', help: 'checkpoint written by lad train / train-teacher / distill (required)' },
  'label-mode': {
    type: 'string',
    value: 'MODE',
    help: "4-channel models: zeros (default), encoded (the image's own labels, lad.encodeTeacherEval) or otherImage (another image's labels)",
  },
  dataset: { type: 'string', value: 'NAME', help: "digits-seg, textured-blobs or folder:<dir> (default: the checkpoint's)" },
  split: { type: 'string', value: 'train|val', help: 'split to evaluate (default val)' },
  limit: { type: 'string', value: 'N', help: 'only the first N samples' },
  'batch-size': { type: 'string', value: 'N', help: 'images per forward pass (default 8)' },
  seed: { type: 'string', value: 'S', help: 'seed of the label codes (default 0)' },
  ...DEVICE_FLAGS,
  json: { type: 'boolean', help: 'print the result as JSON' },
  help: { type: 'boolean', help: 'show this help' },
};

const USAGE = [
  'usage: lad eval --checkpoint CKPT [--label-mode zeros|encoded|otherImage] [flags]',
  '',
  'Evaluates a checkpoint on a whole split: mIoU (present classes and all K), pixAcc, per-class IoU.',
  '',
  ...formatFlags(FLAGS),
].join('\n');

export const runEval: CommandRun = async (args, io) => {
  const cmd = 'lad eval';
  const { flags, positionals } = parseFlags(cmd, args, FLAGS);
  if (flags.help) return (io.out(USAGE), 0);
  if (positionals.length > 0) throw new UsageError(`${cmd}: unexpected argument '${positionals[0]}'; give the checkpoint as --checkpoint CKPT.`);
  const choice = checkDevice(cmd, flags);
  if (typeof flags.checkpoint !== 'string' || flags.checkpoint === '') throw new UsageError(`${cmd}: --checkpoint CKPT is required.`);
  const mode = (flags['label-mode'] ?? 'zeros') as LabelMode;
  if (!MODES.includes(mode)) throw new UsageError(`${cmd}: --label-mode must be one of ${MODES.join(', ')}: got '${String(mode)}'.`);
  const split = flags.split ?? 'val';
  if (split !== 'train' && split !== 'val') throw new UsageError(`${cmd}: --split must be train or val: got '${String(split)}'.`);
  const { ck, config } = readCheckpoint(cmd, '--checkpoint', flags.checkpoint);
  if (!config)
    throw new UsageError(
      `${cmd}: ${flags.checkpoint} holds no run config (extra.config); evaluate checkpoints written by lad train, train-teacher or distill.`,
    );
  const data = { ...config.data, ...(typeof flags.dataset === 'string' ? { dataset: flags.dataset } : {}) };
  const ds = loadDatasets(cmd, data)[split];
  checkModelConfig(cmd, config.model, ds.numClasses);
  asUsage(cmd, () => validateLadConfig(config.lad));
  const model = buildModel(config.model);
  loadWeights(cmd, `--checkpoint ${flags.checkpoint}`, model, ck, config.model);
  const evalOpts = {
    numClasses: ds.numClasses,
    labelMode: mode,
    encoding: config.lad.encodeTeacherEval,
    batchSize: intFlag(cmd, flags, 'batch-size', 8, 1),
    seed: intFlag(cmd, flags, 'seed', 0, Number.MIN_SAFE_INTEGER),
    limit: intFlag(cmd, flags, 'limit', undefined, 1),
  };
  const r = await withDevice(cmd, choice, io, (device) => evaluate(model.to(device), ds, { ...evalOpts, device }));
  if (flags.json)
    return (
      io.out(JSON.stringify({ checkpoint: flags.checkpoint, step: ck.step, dataset: data.dataset, split, labelMode: mode, device: choice.device, ...r })), 0
    );
  const pct = (v: number) => (Number.isNaN(v) ? '-' : (100 * v).toFixed(2));
  io.out(['| id | class | IoU % |', '| ---: | --- | ---: |', ...r.iou.map((v, k) => `| ${k} | ${ds.classNames[k] ?? k} | ${pct(v)} |`)].join('\n'));
  io.out(
    `${flags.checkpoint} (step ${ck.step}) on ${data.dataset} ${split}, label channel ${model.inChannels === 4 ? mode : 'none'}: mIoU ${pct(r.mIoU)} (over all ${ds.numClasses} classes; present classes only: ${pct(r.mIoUPresent)}), pixAcc ${pct(r.pixAcc)}`,
  );
  return 0;
};
