// @lad/nn: modules, layers, losses and optimizers on @lad/tensor (the nn issue fills this in).
export {};
