// Report graphics for LAD experiments: an RGB canvas with a built-in bitmap font, line plots of
// training curves, segmentation figure grids, and a TTY progress line. PNG output only.
export * from './font.ts';
export * from './canvas.ts';
export * from './ticks.ts';
export * from './plot.ts';
export * from './colors.ts';
export * from './grid.ts';
export * from './progress.ts';
