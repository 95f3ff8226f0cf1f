// Run by test/lad-train.test.ts as a child process that it SIGKILLs after the step-3 checkpoint:
// `node --import tsx test/util/lad-train-child.ts OUTDIR`. Steps from 3 on are slowed down.
import { tinyRun } from './lad-train-setup.ts';

await tinyRun(process.argv[2], { slowAfter: 3 });
