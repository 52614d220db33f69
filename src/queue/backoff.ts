/** Retry delays: a pure strategy (exponential growth, a ceiling, jitter), the random source injected. */

export interface BackoffOptions {
  readonly baseMs: number;
  readonly factor: number;
  readonly maxMs: number;
  /** Share of the delay drawn at random: 0 none, 1 full jitter. */
  readonly jitter: number;
}

/**
 * Delay before retry number `attempt` (1 = first retry): min(maxMs, baseMs·factor^(attempt−1)), of which
 * the share `jitter` is drawn uniformly, so workers that failed together do not retry together.
 */
export function backoffDelayMs(attempt: number, options: BackoffOptions, random: () => number = Math.random): number {
  if (!Number.isInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be a positive integer, got ${attempt}`);
  const ceiling = Math.min(options.maxMs, options.baseMs * Math.pow(options.factor, attempt - 1));
  const fixed = ceiling * (1 - options.jitter);
  return Math.round(fixed + random() * (ceiling - fixed));
}
