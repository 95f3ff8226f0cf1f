// Every segmentation architecture overfits one fixed batch of digits-seg (issue: loss down by 90%).
// The loss is taken at logit resolution against labels reduced by nearest sampling: logits at 1/8
// cannot draw 2-px digit strokes after upsampling, so the upsampled loss has a floor that is about
// resolution, not about whether the model can learn.

import { describe, expect, it } from 'vitest';
import { Generator, crossEntropy, interpolate, manualSeed, noGrad, stack, type Tensor } from '@lad/tensor';
import { SGD } from '@lad/nn';
import { buildModel, digitsSeg, modelPreset, type Arch } from '@lad/lad';

/** Labels (N, H, W) reduced to (N, h, w) by nearest sampling (ignore stays -1). */
function nearestLabels(labels: Tensor, h: number, w: number): Tensor {
  const asFloat = labels.unsqueeze(1).to('float32'); // (N, 1, H, W)
  return interpolate(asFloat, { size: [h, w], mode: 'nearest' })
    .squeeze(1)
    .to('int32');
}

describe('every model overfits one batch of digits-seg', () => {
  const { train } = digitsSeg({ train: 40, val: 10, seed: 3 });
  const samples = [0, 1].map((i) => train.get(i));
  const images = stack(samples.map((s) => s.image)); // (2, 3, 64, 64)
  const labels = stack(samples.map((s) => s.label)); // (2, 64, 64)

  for (const arch of ['fcn', 'psp', 'deeplabv3', 'ocr', 'stdc'] as Arch[]) {
    it(`${arch}: loss at logit resolution falls by at least 90%`, () => {
      manualSeed(0);
      const model = buildModel({ ...modelPreset('tiny', arch, { numClasses: 11 }), dropout: 0, auxDropout: 0 }, { generator: new Generator(1) });
      const opt = new SGD(model.parameters(), { lr: 0.05, momentum: 0.9 });
      const lossAt = (): Tensor => {
        const { logits } = model.forward(images); // (2, 11, 8, 8)
        return crossEntropy(logits, nearestLabels(labels, logits.shape[2], logits.shape[3]), { ignoreIndex: -1 });
      };
      const first = noGrad(lossAt).item();
      let last = first;
      for (let step = 0; step < 200 && last > 0.1 * first; step++) {
        const loss = lossAt();
        opt.zeroGrad();
        loss.backward();
        opt.step();
        last = loss.item();
      }
      expect(last).toBeLessThan(0.1 * first);
    }, 60_000);
  }
});
