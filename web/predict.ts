// The prediction the page draws (sections 4 and 5): a model's class ids on one val image. A student
// sees zeros in its label channel; a teacher measured with its labels sees them under the fixed
// distillation code, the code its student is distilled on.

import { type Device, Generator, type Tensor, noGrad, zeros } from '@lad/tensor';
import { type ArmName, type LabelEncoding, type SegModel, armSpec, encodeLabels, upsampleTo, withLabelChannel } from '@lad/lad';

/** Does an arm's model see labels when it is measured (a teacher whose evalInput is 'labels')? */
export const seesLabels = (arm: string): boolean => arm !== 'baseline-start' && armSpec(arm as ArmName)?.evalInput === 'labels';

/** Class ids (H·W) of `image` (3, H, W) with labels `label` (H, W); `encoding`: a teacher's code, null for zeros. */
export async function predictIds(
  model: SegModel,
  image: Tensor,
  label: Tensor,
  K: number,
  encoding: LabelEncoding | null,
  device: Device = 'cpu',
): Promise<Int32Array> {
  const [, H, W] = image.shape;
  const y = label.reshape([1, H, W]).to(device);
  const ch = encoding ? encodeLabels(y, K, encoding, new Generator(0)) : zeros([1, 1, H, W], { device }); // (1, 1, H, W)
  const wasTraining = model.training;
  model.eval();
  const x = withLabelChannel(image.reshape([1, 3, H, W]).to(device), ch); // (1, 4, H, W)
  const ids = noGrad(() => upsampleTo(model.forward(x).logits, y).argmax(1)); // (1, H, W)
  model.train(wasTraining);
  return Int32Array.from(await ids.dataAsync());
}
