/** "unknown key \"nonMasqueradeCIRDs\"; did you mean nonMasqueradeCIDRs?" Pure. */

/** Lowercase with `-`/`_` removed: `masq-link-local` and `MasqLinkLocal` both match. */
function looseKey(key: string): string {
  return key.toLowerCase().replace(/[-_]/g, '');
}

/** Optimal string alignment distance (Levenshtein plus adjacent transpositions). */
function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [
    i,
    ...new Array<number>(b.length).fill(0),
  ]);
  for (let j = 1; j <= b.length; j++) (d[0] as number[])[j] = j;
  for (let i = 1; i <= a.length; i++) {
    const row = d[i] as number[];
    const prev = d[i - 1] as number[];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(
        (prev[j] as number) + 1,
        (row[j - 1] as number) + 1,
        (prev[j - 1] as number) + cost,
      );
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        v = Math.min(v, ((d[i - 2] as number[])[j - 2] as number) + 1);
      }
      row[j] = v;
    }
  }
  return (d[a.length] as number[])[b.length] as number;
}

/** The known key an unknown one was probably meant to be, or null. */
export function closestKey(key: string, known: readonly string[]): string | null {
  const loose = looseKey(key);
  const exact = known.find((k) => looseKey(k) === loose);
  if (exact !== undefined) return exact;
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const k of known) {
    const distance = editDistance(loose, looseKey(k));
    if (distance < bestDistance) {
      best = k;
      bestDistance = distance;
    }
  }
  // Allow roughly one typo per four characters, at least two: "cidrlimt", "masqLinkLocl".
  const allowed = Math.max(2, Math.floor(loose.length / 4));
  return bestDistance <= allowed ? best : null;
}
