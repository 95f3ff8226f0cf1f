// Typed errors for reading and writing files. Messages follow ARCHITECTURE.md, "Errors":
// `<what>: <file>: <what is wrong>: got <actual>, expected <rule>.`, and always name the file,
// so a bad checkpoint among many is found at once.

/** A safetensors file (or byte buffer) that breaks the format, or tensors that cannot be written. */
export class SafetensorsError extends Error {
  constructor(
    /** The file (or the caller's sourceName) the problem is in. */
    readonly file: string,
    /** What is wrong, without the file name. */
    readonly detail: string,
  ) {
    super(`safetensors: ${file}: ${detail}`);
    this.name = 'SafetensorsError';
  }
}

/** A safetensors file that is valid but is not a checkpoint of this library, or does not fit the caller. */
export class CheckpointError extends Error {
  constructor(
    readonly file: string,
    readonly detail: string,
  ) {
    super(`checkpoint: ${file}: ${detail}`);
    this.name = 'CheckpointError';
  }
}
