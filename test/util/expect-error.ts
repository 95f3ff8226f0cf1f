// expectError: runs a function that must throw one of the library's typed errors, and checks the
// message follows ARCHITECTURE.md's "Errors" (`<op>: ...`, shapes printed as `[2, 3]`).

import { expect } from 'vitest';
import { DeviceError, DTypeError, ShapeError, TensorError, ValueError } from '@lad/tensor';

export type ErrClass = typeof ShapeError | typeof DTypeError | typeof ValueError | typeof DeviceError | typeof TensorError;

/** Runs f, expecting `cls`; returns the message after checking the `<op>: ` prefix and shape format. */
export function expectError(f: () => unknown, cls: ErrClass, op: string, ...has: string[]): string {
  let err: unknown;
  try {
    f();
  } catch (e) {
    err = e;
  }
  if (err === undefined) expect.fail(`expected ${cls.name} from ${op}, but nothing was thrown`);
  expect(err, String(err)).toBeInstanceOf(cls);
  expect(err).toBeInstanceOf(TensorError);
  const msg = (err as Error).message;
  expect(msg.startsWith(`${op}: `), `message should start with "${op}: ": ${msg}`).toBe(true);
  expect(msg, 'shapes print as [2, 3]').not.toMatch(/\[\s*-?\d+,(?! )/);
  for (const h of has) expect(msg, `message should mention ${h}`).toContain(h);
  return msg;
}
