/**
 * Fuzzing the study reader with mutated real files: byte changes (mostly in the header, where the
 * parser decides) and truncations. Every mutated file must end in frames or a typed error
 * (BadInputError and its subclasses); anything else is an uncaught error: a crash, in the service a
 * job failed as "internal error" instead of bad input. Shared by corpus-robustness.test.ts (fast-check
 * drives the mutations) and the reliability suite (a seeded loop of a chosen size).
 */
import { readInstance } from '../../src/dicom/read/read-instance.js';
import { readStudy } from '../../src/study/read-study.js';
import { BadInputError } from '../../src/core/errors.js';
import { seededRandom } from '../../src/util/seeded-random.js';

/** `original` with `changes` ([offset, byte]; offsets wrap within the first `span` bytes) then cut at `cut` (wrapped), when given. */
export function mutateFile(original: Uint8Array, changes: ReadonlyArray<readonly [number, number]>, cut: number | null, span = 1600): Uint8Array {
  let bytes = original.slice();
  for (const [at, value] of changes) bytes[at % Math.min(bytes.length, span)] = value;
  if (cut !== null) bytes = bytes.subarray(0, cut % bytes.length);
  return bytes;
}

/** The untyped error the readers (one instance, and the study reader on it alone) threw, or undefined when both ended in data or a typed error. */
export function untypedReaderError(bytes: Uint8Array, source = 'fuzz.dcm'): string | undefined {
  for (const read of [() => readInstance(source, bytes), () => readStudy([{ source, bytes }])]) {
    try {
      read();
    } catch (error) {
      if (!(error instanceof BadInputError)) return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
  }
  return undefined;
}

export interface FuzzRun {
  readonly cases: number;
  readonly uncaught: number;
  /** The first few uncaught errors, each with the case that gave it (seed file and case number). */
  readonly examples: readonly string[];
}

/**
 * `cases` mutated files drawn from `seeds` with a fixed `seed`: up to 8 byte changes, mostly within
 * the first 1600 bytes, sometimes anywhere (pixel data, codecs), and a truncation in half of them.
 */
export function fuzzStudyReader(seeds: ReadonlyArray<{ name: string; bytes: Uint8Array }>, cases: number, seed: number): FuzzRun {
  const random = seededRandom(seed);
  const int = (n: number) => Math.floor(random() * n);
  let uncaught = 0;
  const examples: string[] = [];
  for (let k = 0; k < cases; k++) {
    const file = seeds[int(seeds.length)]!;
    const span = random() < 0.7 ? 1600 : file.bytes.length;
    const changes = Array.from({ length: int(9) }, () => [int(span), int(256)] as const);
    const cut = random() < 0.5 ? int(file.bytes.length) : null;
    const problem = untypedReaderError(mutateFile(file.bytes, changes, cut, span), `fuzz-${k}.dcm`);
    if (problem !== undefined) {
      uncaught++;
      if (examples.length < 5) examples.push(`case ${k} (seed ${seed}, from ${file.name}): ${problem}`);
    }
  }
  return { cases, uncaught, examples };
}
