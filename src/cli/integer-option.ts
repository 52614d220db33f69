/** The one parser of integer command-line values: every subcommand's integer flags go through it. */

export interface IntegerRange {
  /** @defaultValue no lower bound */
  readonly min?: number;
  /** @defaultValue no upper bound */
  readonly max?: number;
}

/**
 * The integer `text` stands for, checked against `range`; otherwise an Error naming the flag and
 * the value (a command-line value is never patient data).
 */
export function parseIntegerOption(text: unknown, flag: string, range: IntegerRange = {}): number {
  const source = String(text).trim();
  const n = Number(source);
  const { min, max } = range;
  const wanted =
    min === 1 && max === undefined
      ? 'a positive integer'
      : min === 0 && max === undefined
        ? 'a non-negative integer'
        : min !== undefined && max !== undefined
          ? `an integer from ${min} to ${max}`
          : min !== undefined
            ? `an integer of at least ${min}`
            : max !== undefined
              ? `an integer of at most ${max}`
              : 'an integer';
  if (source === '' || !Number.isSafeInteger(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
    throw new Error(`${flag} must be ${wanted}, got '${source}'`);
  }
  return n;
}

/** The same, as a commander option parser: `.option('--threads <n>', '...', integerOption('--threads', { min: 1 }))`. */
export function integerOption(flag: string, range: IntegerRange = {}): (text: string) => number {
  return (text) => parseIntegerOption(text, flag, range);
}
