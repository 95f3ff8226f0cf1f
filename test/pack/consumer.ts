// Pack test, consumer 2: type-checked with `tsc --noEmit` against the declarations in the installed
// tarballs (strict, NodeNext). The @ts-expect-error lines fail the check if the types degrade to any.
import { type Tensor, conv2d, crossEntropy, randn, tensor, initBackend, type GpuInfo } from '@lad/tensor';
import { Adam, Conv2d, Module, ReLU, Sequential, saveCheckpoint, type StateDict } from '@lad/nn';
import { type LadConfig, type SegModel } from '@lad/lad';

class Net extends Module {
  readonly body = new Sequential(new Conv2d(3, 8, 3, { padding: 1 }), new ReLU(), new Conv2d(8, 2, 1));
  forward(x: Tensor): Tensor {
    return this.body.forward(x); // (N, 2, H, W)
  }
}

const net = new Net();
const opt = new Adam(net.parameters(), { lr: 1e-3 });
const x: Tensor = randn([2, 3, 8, 8]);
const y: Tensor = tensor(new Array(128).fill(0), { shape: [2, 8, 8], dtype: 'int32' });
const loss: Tensor = crossEntropy(net.forward(x), y);
loss.backward();
opt.step();
const n: number = loss.item();
const sd: StateDict = net.stateDict();
saveCheckpoint('/dev/null', { model: net, step: 1 });
const direct: Tensor = conv2d(x, randn([4, 3, 3, 3]), null, { padding: 1 });
export const gpu: () => Promise<GpuInfo> = () => initBackend('gpu', { mode: 'cpu' });
export const cfg: Partial<LadConfig> | undefined = undefined;
export type Model = SegModel;
export { n, sd, direct };

// @ts-expect-error: a shape is a number[], not a string
randn('2x3');
// @ts-expect-error: Adam takes options, not a learning rate number
new Adam(net.parameters(), 0.1);
