/** The median (mean of the middle two for an even count); `empty` for no values (NaN unless the caller knows better). */
export function median(values: readonly number[], empty = Number.NaN): number {
  if (values.length === 0) return empty;
  const s = [...values].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}
