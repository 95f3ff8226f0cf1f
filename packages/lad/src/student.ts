// One student step of LAD (lad-method.md §2.4) and the CE-only baseline step (§7.1 control iv):
// a frozen eval-mode teacher sees the image plus the deterministic label code (encodeDistill); the
// student sees the image plus an all-zero channel; loss CE + auxWeightStudent·aux + kdWeight·KD.
// Legend: N batch, K classes, H×W image plane, h×w logit plane.

import { type Generator, ShapeError, type Tensor, ValueError, fmtShape, interpolate, noGrad } from '@lad/tensor';
import type { LadConfig } from './config.ts';
import { validateLadConfig } from './validate.ts';
import { zeroChannel } from './label-encoding.ts';
import { channelWiseDistillation, pixelKD, segLoss } from './losses.ts';
import type { SegModel } from './models/types.ts';
import { type Batch, type StepLoss, checkBatch, checkModel, stepLoss, teacherInput } from './teacher.ts';

/** The input of a model that gets no labels: the image, plus a zero channel for a 4-channel model. */
export function unlabelledInput(model: SegModel, images: Tensor): Tensor {
  return model.inChannels === 4 ? zeroChannel(images) : images;
}

/** Teacher logits (N, K, h', w') brought to the student's (N, K, h, w); bilinear, align_corners=True. */
function alignTeacher(t: Tensor, s: Tensor, cfg: LadConfig): Tensor {
  if (t.shape[0] !== s.shape[0] || t.shape[1] !== s.shape[1]) {
    throw new ShapeError(`studentLoss: teacher logits ${fmtShape(t.shape)} and student logits ${fmtShape(s.shape)} differ in N or K.`);
  }
  if (t.shape[2] === s.shape[2] && t.shape[3] === s.shape[3]) return t;
  if (!cfg.resizeTeacherLogits) {
    throw new ShapeError(
      `studentLoss: teacher logits ${fmtShape(t.shape)} and student logits ${fmtShape(s.shape)} differ in size: set resizeTeacherLogits: true to resize the teacher's bilinearly.`,
    );
  }
  return noGrad(() => interpolate(t, { size: [s.shape[2], s.shape[3]], mode: 'bilinear', alignCorners: true }));
}

/** The KD term between main logits: CWD or pixel KD at kdT, the teacher side detached (kdLoss validated by studentLoss). */
function kdTerm(s: Tensor, t: Tensor, cfg: LadConfig): Tensor {
  return cfg.kdLoss === 'cwd' ? channelWiseDistillation(s, t, { temperature: cfg.kdT }) : pixelKD(s, t, { temperature: cfg.kdT });
}

/**
 * The student's loss on one batch. Puts the student in train mode and the teacher in eval mode
 * (NOTE: the teacher is left in eval mode afterwards). The teacher runs under noGrad on
 * encodeDistill (the image alone when teacher.inChannels === 3), and only when kdLoss !== 'none'
 * and kdWeight !== 0 (with the KD term off the teacher may be null: the plain student recipe, the
 * experiment's control); its encoding draws from `gen`. terms: ce, [aux,] kd, total. Student, teacher
 * and batch must be on one device; nothing is read back.
 */
export function studentLoss(student: SegModel, teacher: SegModel | null, batch: Batch, numClasses: number, cfg: LadConfig, gen: Generator): StepLoss {
  validateLadConfig(cfg, 'cfg', 'studentLoss');
  checkBatch('studentLoss', batch);
  checkModel('studentLoss', 'student', student, numClasses);
  const useKd = cfg.kdLoss !== 'none' && cfg.kdWeight !== 0;
  if (useKd && !teacher)
    throw new ValueError(
      `studentLoss: teacher is null but the KD term is on (kdLoss '${cfg.kdLoss}', kdWeight ${cfg.kdWeight}); pass a teacher or set kdLoss 'none'.`,
    );
  if (teacher) checkModel('studentLoss', 'teacher', teacher, numClasses);
  if (teacher === student) throw new ValueError('studentLoss: the teacher is the student itself; pass another model, or null with the KD term off.');
  student.train();
  teacher?.eval();
  const t = useKd && teacher ? noGrad(() => teacher.forward(teacherInput(teacher, batch, numClasses, cfg.encodeDistill, gen)).logits) : null;
  const out = student.forward(unlabelledInput(student, batch.images));
  const seg = segLoss(out, batch.labels, cfg.auxWeightStudent);
  const terms: Record<string, Tensor | number> = { ce: seg.ce };
  if (seg.aux) terms.aux = seg.aux;
  let loss = seg.loss;
  if (t) {
    const kd = kdTerm(out.logits, alignTeacher(t, out.logits, cfg), cfg);
    terms.kd = kd;
    loss = loss.add(kd.mul(cfg.kdWeight));
  } else terms.kd = 0;
  terms.total = loss;
  return stepLoss(loss, terms);
}

/** The baseline's loss (CE + auxWeightBaseline·aux), a zero label channel for a 4-channel model; train mode. terms: ce, [aux,] total. */
export function baselineLoss(model: SegModel, batch: Batch, cfg: LadConfig): StepLoss {
  validateLadConfig(cfg, 'cfg', 'baselineLoss');
  checkBatch('baselineLoss', batch);
  model.train();
  const seg = segLoss(model.forward(unlabelledInput(model, batch.images)), batch.labels, cfg.auxWeightBaseline);
  const terms: Record<string, Tensor | number> = { ce: seg.ce };
  if (seg.aux) terms.aux = seg.aux;
  terms.total = seg.loss;
  return stepLoss(seg.loss, terms);
}
