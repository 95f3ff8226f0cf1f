// Test setup (vitest setupFiles): outputs that kernels promise to write whole (allocOut) start as
// NaN instead of whatever a recycled buffer held, so a kernel that skips an element fails a test.
import { allocTuning } from '../packages/tensor/src/backend/cpu/alloc.ts';

allocTuning.poison = true;
