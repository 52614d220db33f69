/** What the bench scripts share: reading `--name value` from the command line, and medians. */

/** The value after `--name` on the command line, if given. */
export function argument(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** Median of the values (NaN when there are none). */
export { median } from '../src/util/median.js';
