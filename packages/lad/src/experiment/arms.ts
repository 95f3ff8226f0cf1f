// The arms of the LAD experiment, as one table (lad-method.md §7.1 item 8). Every arm of a seed
// starts from the same point (the baseline student, or a fresh init) and sees the same data order;
// the table says what else it gets. A reader can take the whole comparison in here:
//
//   arm              recipe    loss     LAD knobs changed                    teacher           label channel
//   control          student   student  KD off (CE + aux 0.02)               –                 zeros
//   control-compute  student   student  KD off, iterations for the FLOPs     –                 zeros
//                                       of teacher-lad + student-lad
//   teacher-nolabel  teacher   teacher  encodeTrain zeros (dual path, cons)  –                 zeros
//   teacher-nocons   teacher   teacher  consistency off                      –                 labels
//   teacher-lad      teacher   teacher  –                                    –                 labels
//   teacher-other-   teacher   teacher  channel from another image's labels  –                 labels
//     labels                           (teacherLabels otherImage; teacher-lad's stream)
//   student-kd       student   student  encodeDistill zeros                  teacher-nolabel   zeros
//   student-lad      student   student  –                                    teacher-lad       zeros
//
// So student-lad − student-kd compares the two teachers' students (same teacher recipe, same
// student recipe); student-lad − control-compute asks whether the whole pipeline beats spending its
// compute on the plain student; teacher-lad − teacher-otherlabels asks what the labels' information
// adds (not a random-code channel of the same statistics, nor another dropout stream: a teacher
// that ignores its channel still beat teacher-nolabel by ~3 points, label-usage.md §11; where
// the misleading maps harm the control, as at init std 1 in §13, it measures that harm). Teachers
// start with their label-channel first-layer weights redrawn (§3.1).

import type { LadConfig } from '../config.ts';

/** The name of an arm (a row of ARMS). */
export type ArmName =
  | 'control'
  | 'control-compute'
  | 'teacher-nolabel'
  | 'teacher-nocons'
  | 'teacher-lad'
  | 'teacher-otherlabels'
  | 'student-kd'
  | 'student-lad';

/** One arm: its recipe, loss, LAD knobs, teacher, evaluation input and init stream. */
export interface ArmSpec {
  name: ArmName;
  title: string;
  /** Which TrainConfig of the experiment it trains with ('compute': the student recipe, iterations matched). */
  recipe: 'student' | 'teacher' | 'compute';
  /** teacherLoss (dual path, label codes) or studentLoss (KD from `teacher` when the knobs keep KD on). */
  loss: 'teacher' | 'student';
  /** The LAD knobs its loss sees, from the experiment's. */
  lad: (lad: LadConfig) => LadConfig;
  /** The arm whose final model it distils from. */
  teacher: ArmName | null;
  /** What the label channel holds when its row's mIoU is measured ('labels': encodeTeacherEval, with diagnostics). */
  evalInput: 'zeros' | 'labels';
  /** The init stream of its copy of the starting point (model generators: dropout). */
  stream: number;
}

const kdOff = (l: LadConfig): LadConfig => ({ ...l, kdLoss: 'none', kdWeight: 0 });

/** Every arm of the experiment, in the order they train (the table above). */
// biome-ignore format: one row per arm, a table to read across
export const ARMS: readonly ArmSpec[] = [
  { name: 'control', title: 'the student recipe without KD (CE + aux): the fair control', recipe: 'student', loss: 'student', lad: kdOff, teacher: null, evalInput: 'zeros', stream: 21 },
  { name: 'control-compute', title: 'the control trained for the FLOPs of teacher-lad + student-lad', recipe: 'compute', loss: 'student', lad: kdOff, teacher: null, evalInput: 'zeros', stream: 27 },
  { name: 'teacher-nolabel', title: 'teacher without labels: the LAD recipe (dual path + consistency) on a zero channel', recipe: 'teacher', loss: 'teacher', lad: (l) => ({ ...l, encodeTrain: { ...l.encodeTrain, codeDist: 'zeros' } }), teacher: null, evalInput: 'zeros', stream: 26 },
  { name: 'teacher-nocons', title: 'label teacher without consistency (dual path, consWeight 0)', recipe: 'teacher', loss: 'teacher', lad: (l) => ({ ...l, consLoss: 'none', consWeight: 0 }), teacher: null, evalInput: 'labels', stream: 22 },
  { name: 'teacher-lad', title: 'LAD teacher (dual path + consistency)', recipe: 'teacher', loss: 'teacher', lad: (l) => l, teacher: null, evalInput: 'labels', stream: 23 },
  { name: 'teacher-otherlabels', title: "label-information control: the LAD teacher trained on another image's labels (same codes, same stream, no information)", recipe: 'teacher', loss: 'teacher', lad: (l) => ({ ...l, teacherLabels: 'otherImage' }), teacher: null, evalInput: 'labels', stream: 23 },
  { name: 'student-kd', title: 'student distilled from teacher-nolabel (KD without labels)', recipe: 'student', loss: 'student', lad: (l) => ({ ...l, encodeDistill: { ...l.encodeDistill, codeDist: 'zeros' } }), teacher: 'teacher-nolabel', evalInput: 'zeros', stream: 24 },
  { name: 'student-lad', title: 'LAD student (distilled from teacher-lad on the fixed code)', recipe: 'student', loss: 'student', lad: (l) => l, teacher: 'teacher-lad', evalInput: 'zeros', stream: 25 },
];

/** The arms' names, in ARMS's order. */
export const ARM_NAMES: readonly ArmName[] = ARMS.map((a) => a.name);

/** The ArmSpec of an arm's name. */
export const armSpec = (name: ArmName): ArmSpec => ARMS.find((a) => a.name === name)!;

/** The arms to run for a selection (null: all), in table order, with the teachers of chosen students added. */
export function armsToRun(selected: readonly ArmName[] | null): ArmSpec[] {
  if (selected === null) return [...ARMS];
  const want = new Set<ArmName>(selected);
  for (const name of selected) {
    const t = armSpec(name)?.teacher;
    if (t) want.add(t);
  }
  return ARMS.filter((a) => want.has(a.name));
}
