// Detection of a fused f32x4 multiply-add in WebAssembly, for the GEMM's FMA kernel (gemm-simd.ts).
// Relaxed SIMD's f32x4.relaxed_madd (opcode 0xfd 0x105) computes a * b + c "fused or not, as the
// engine chooses". Chromium >= 114 has relaxed SIMD on; Node 20's V8 has it behind
// --experimental-wasm-relaxed-simd, which v8.setFlagsFromString turns on for the whole process
// (worker threads included) as long as it runs before the module is compiled; node:v8 is taken
// with process.getBuiltinModule (as threads.ts does), so a browser bundle has no node: import.
// WebAssembly.validate of a tiny module tells whether the engine has the instruction; running it on
// a, b, c where the fused and the unfused results differ tells whether it fuses (V8 on x64 fuses
// where the CPU has FMA3, on arm64 always). Only a fusing engine counts: elsewhere relaxed_madd
// would give the mul+add kernel's bits anyway.

import { Code, I32, Simd, wasmModule } from './emit.ts';

/** The parts of the WebAssembly JS API used here (tsconfig's lib has no WebAssembly types). */
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (m: object) => { exports: { madd(p: number): void; mem: { buffer: ArrayBuffer } } };
}

/** (func (export "madd") (param $p i32)  mem[p+48 ..] = relaxed_madd(mem[p ..], mem[p+16 ..], mem[p+32 ..])) */
function probeModule(): Uint8Array {
  const at = (offset: number) => ({ align: 4, offset });
  const body = new Code()
    .get(0)
    .get(0)
    .simd(Simd.v128_load, at(0))
    .get(0)
    .simd(Simd.v128_load, at(16))
    .get(0)
    .simd(Simd.v128_load, at(32))
    .simd(Simd.f32x4_relaxed_madd)
    .simd(Simd.v128_store, at(48));
  return wasmModule({ funcs: [{ params: [I32], results: [], locals: [], body, export: 'madd' }], memory: { minPages: 1, export: 'mem' } });
}

/** Turns relaxed SIMD on in Node's V8 if it is off (a no-op in a browser or where it is on already). */
function enableRelaxedSimd(WA: WasmApi, probe: Uint8Array): void {
  if (WA.validate(probe)) return;
  const proc = (globalThis as { process?: { getBuiltinModule?: NodeJS.Process['getBuiltinModule'] } }).process;
  if (typeof proc?.getBuiltinModule !== 'function') return;
  proc.getBuiltinModule('node:v8').setFlagsFromString('--experimental-wasm-relaxed-simd');
}

let fused: boolean | undefined;

/**
 * Whether f32x4.relaxed_madd validates here and computes a fused multiply-add (one rounding), checked
 * once (in Node, after switching relaxed SIMD on). With a = 1 + 2^-23, b = 1 - 2^-23, c = -1: a * b =
 * 1 - 2^-46 exactly, which float32 rounds to 1, so mul then add gives 0 and a fused madd -2^-46.
 */
export function relaxedMaddFuses(): boolean {
  if (fused !== undefined) return fused;
  fused = false;
  const WA = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;
  if (WA === undefined) return fused;
  try {
    const bytes = probeModule();
    enableRelaxedSimd(WA, bytes);
    if (!WA.validate(bytes)) return fused;
    const ex = new WA.Instance(new WA.Module(bytes)).exports;
    const f = new Float32Array(ex.mem.buffer, 0, 16);
    f.fill(1 + 2 ** -23, 0, 4);
    f.fill(1 - 2 ** -23, 4, 8);
    f.fill(-1, 8, 12);
    ex.madd(0);
    fused = Array.from(f.subarray(12, 16)).every((v) => v === -(2 ** -46));
  } catch {
    fused = false; // an engine that rejects the flag or the module: no FMA kernel
  }
  return fused;
}
