// @lad/nn io: safetensors files (weights exchangeable with PyTorch) and training checkpoints,
// both written atomically. Everything here is synchronous, like torch.save/torch.load.

export { SafetensorsError, CheckpointError } from './errors.ts';
export { serializeSafetensors, parseSafetensors, saveSafetensors, loadSafetensors, MAX_HEADER_BYTES, type Safetensors } from './safetensors.ts';
export { writeFileAtomic, tempPathFor } from './atomic.ts';
export {
  saveCheckpoint,
  loadCheckpoint,
  parseCheckpoint,
  restoreCheckpoint,
  checkpointPath,
  latestCheckpoint,
  encodeCheckpoint,
  decodeCheckpoint,
  CHECKPOINT_VERSION,
  type Checkpoint,
  type CheckpointInput,
  type RestoreTargets,
  type StateDictSource,
  type StateDictTarget,
  type OptimizerSource,
  type OptimizerTarget,
  type GeneratorSource,
  type GeneratorTarget,
} from './checkpoint.ts';
