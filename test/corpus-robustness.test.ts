/**
 * Every file of the shared DICOM corpus (real encodings and deliberately broken files) ends in decoded
 * frames or a typed, one-line error: never a crash, a hang or an untyped exception.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { readInstance } from '../src/dicom/read/read-instance.js';
import { readStudy } from '../src/study/read-study.js';
import { BadInputError, UnsupportedEncodingError } from '../src/core/errors.js';
import { cineInstances, enhancedCineInstance } from './study-fixtures.js';
import { sharedData } from './support/paths.js';
import { mutateFile, untypedReaderError } from './support/fuzz.js';

const corpus = join(sharedData, 'dicom-corpus');
const references = join(sharedData, 'reference-seg-sr');

function dicomFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile() && !/\.(txt|md|json|tsv)$/iu.test(f))
    .sort();
}

const files = [...dicomFiles(corpus), ...dicomFiles(references)];

type Outcome = { frames: number; rows: number; columns: number } | { error: RegExp; unsupported?: true };

/** What specific files must give (the rest: any result or typed error). */
const expected: Record<string, Outcome> = {
  'pydicom/MR_small.dcm': { frames: 1, rows: 64, columns: 64 },
  'pydicom/MR_small_implicit.dcm': { frames: 1, rows: 64, columns: 64 },
  'pydicom/MR_small_bigendian.dcm': { frames: 1, rows: 64, columns: 64 },
  'pydicom/MR_small_RLE.dcm': { frames: 1, rows: 64, columns: 64 },
  'pydicom/MR_small_jp2klossless.dcm': { frames: 1, rows: 64, columns: 64 },
  'pydicom/MR_small_jpeg_ls_lossless.dcm': { frames: 1, rows: 64, columns: 64 },
  'pydicom/MR_small_padded.dcm': { frames: 1, rows: 64, columns: 64 },
  'pydicom/image_dfl.dcm': { frames: 1, rows: 512, columns: 512 },
  'pydicom/JPEG2000.dcm': { frames: 1, rows: 1024, columns: 256 },
  'pydicom/SC_rgb_jpeg_dcmtk.dcm': { frames: 1, rows: 100, columns: 100 },
  'pydicom/SC_jpeg_no_color_transform.dcm': { frames: 1, rows: 256, columns: 256 },
  'pydicom/JPEGLSNearLossless_16.dcm': { frames: 1, rows: 50, columns: 10 },
  'pydicom/ExplVR_BigEnd.dcm': { frames: 1, rows: 60, columns: 80 },
  'pydicom/liver_1frame.dcm': { frames: 1, rows: 512, columns: 512 },
  'pydicom-data/JPEG-LL.dcm': { frames: 1, rows: 1024, columns: 256 },
  'pydicom-data/MR2_J2KI.dcm': { frames: 1, rows: 1024, columns: 1024 },
  'pydicom-data/emri_small.dcm': { frames: 10, rows: 64, columns: 64 },
  'pydicom-data/emri_small_RLE.dcm': { frames: 10, rows: 64, columns: 64 },
  'pydicom-data/emri_small_big_endian.dcm': { frames: 10, rows: 64, columns: 64 },
  'pydicom-data/emri_small_jpeg_2k_lossless.dcm': { frames: 10, rows: 64, columns: 64 },
  'pydicom-data/emri_small_jpeg_ls_lossless.dcm': { frames: 10, rows: 64, columns: 64 },
  'pydicom-data/liver_deflate.dcm': { frames: 3, rows: 512, columns: 512 },
  'pydicom/MR_truncated.dcm': { error: /PixelData has 8130 bytes, 8192 expected/ },
  'pydicom/JPGExtended.dcm': { error: /12-bit JPEG in transfer syntax 1\.2\.840\.10008\.1\.2\.4\.51 cannot be decoded here/, unsupported: true },
  'pydicom/JPEG-lossy.dcm': { error: /transfer syntax 1\.2\.840\.10008\.1\.2\.4\.51/, unsupported: true },
  'pydicom/UN_sequence.dcm': { error: /not a readable DICOM file/ },
  'pydicom/meta_missing_tsyntax.dcm': { error: /not a readable DICOM file/ },
  'pydicom/rtplan_truncated.dcm': { error: /Rows is missing/ },
  'pydicom/test-SR.dcm': { error: /Rows is missing/ },
  'pydicom/no_meta.dcm': { error: /not a DICOM instance/ },
};

describe('every corpus file gives frames or a typed error', () => {
  it('finds the corpus', () => {
    assert.ok(files.length >= 40, `found ${files.length} files under ${sharedData}`);
  });

  for (const file of files) {
    const name = relative(file.startsWith(corpus) ? corpus : references, file);
    it(name, () => {
      const bytes = new Uint8Array(readFileSync(file));
      const started = performance.now();
      let outcome: { frames: readonly Float32Array[]; rows: number; columns: number } | BadInputError;
      try {
        const instance = readInstance(name, bytes);
        outcome = { frames: instance.frames, rows: instance.format.rows, columns: instance.format.columns };
      } catch (error) {
        assert.ok(error instanceof BadInputError, `${name}: untyped ${String(error)}`);
        outcome = error;
      }
      assert.ok(performance.now() - started < 5000, `${name} took too long`);
      if (outcome instanceof BadInputError) {
        assert.ok(!outcome.message.includes('\n'), 'one-line message');
        assert.ok(outcome.message.startsWith(name), `the message names the source: ${outcome.message}`);
      } else {
        for (const frame of outcome.frames) {
          assert.equal(frame.length, outcome.rows * outcome.columns);
          assert.ok(frame.every(Number.isFinite), 'finite values');
        }
      }
      const want = expected[name];
      if (want && 'frames' in want) {
        assert.ok(!(outcome instanceof BadInputError), `${name}: ${outcome instanceof BadInputError ? outcome.message : ''}`);
        assert.equal(outcome.frames.length, want.frames);
        assert.equal(outcome.rows, want.rows);
        assert.equal(outcome.columns, want.columns);
      } else if (want) {
        assert.ok(outcome instanceof BadInputError, `${name} should fail`);
        assert.match(outcome.message, want.error);
        assert.equal(outcome instanceof UnsupportedEncodingError, want.unsupported === true, 'UnsupportedEncodingError exactly when decoding is impossible here');
      }

      // The study reader, given the file alone, ends in a study or a typed error too.
      try {
        readStudy([{ source: name, bytes }]);
      } catch (error) {
        assert.ok(error instanceof BadInputError, `${name}: readStudy threw untyped ${String(error)}`);
      }
    });
  }
});

describe('corrupted files give typed errors too', () => {
  it('random byte changes and truncations of real and synthetic files never escape as untyped errors', () => {
    const seeds: Uint8Array[] = [
      'pydicom/MR_small_RLE.dcm',
      'pydicom-data/emri_small_jpeg_2k_lossless.dcm',
      'pydicom-data/emri_small_jpeg_ls_lossless.dcm',
      'pydicom-data/JPEG-LL.dcm',
      'pydicom/SC_rgb_jpeg_dcmtk.dcm',
    ].map((p) => new Uint8Array(readFileSync(join(corpus, p))));
    seeds.push(enhancedCineInstance().bytes, cineInstances()[0]!.bytes);
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: seeds.length - 1 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 8 }),
        fc.option(fc.nat()),
        (which, changes, cut) => {
          const problem = untypedReaderError(mutateFile(seeds[which]!, changes, cut));
          assert.equal(problem, undefined, `untyped ${problem}`);
        },
      ),
      { numRuns: 300, seed: 20260101 },
    );
  });
});

