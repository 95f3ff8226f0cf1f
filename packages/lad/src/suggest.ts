// Typo suggestions for error messages ("did you mean ...?"), shared by the config validator and the CLI.

/** The closest of `choices` to `word` by edit distance, if it is close enough to be a likely typo. */
export function suggest(word: string, choices: readonly string[]): string | undefined {
  const dist = (a: string, b: string) => {
    let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
    for (let i = 1; i <= a.length; i++) {
      const cur = [i];
      for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = cur;
    }
    return prev[b.length];
  };
  const best = [...choices].sort((a, b) => dist(word, a) - dist(word, b))[0];
  return best !== undefined && dist(word, best) <= Math.max(2, Math.floor(best.length / 3)) ? best : undefined;
}
