// Typed errors. Messages follow `<op>: <what is wrong>: got <actual>, expected <rule>.`
// (see ARCHITECTURE.md, "Errors"); tests assert the class and the key numbers.

/** Base class of the library's errors; `name` is the subclass's name. */
export class TensorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** A shape, rank, dim or index that does not fit the op. */
export class ShapeError extends TensorError {}
/** A dtype the op does not accept (int32 where a float is required, mixed dtypes). */
export class DTypeError extends TensorError {}
/** Tensors on different devices, or a device that is not available. */
export class DeviceError extends TensorError {}
/** A broken engine invariant: always a bug in this library, never in the caller's code. */
export class InternalError extends TensorError {
  constructor(message: string) {
    super(`${message} (this is a bug in @lad/tensor; please report it)`);
  }
}
/** A parameter value out of its domain (negative size, zero step, NaN-producing settings). */
export class ValueError extends TensorError {}
