/**
 * Decoders against ground truth: each lossless encoding in the corpus gives exactly the pixels of its
 * uncompressed twin, the uncompressed reader agrees with the raw bytes, and our RLE decoder handles
 * every PackBits case.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readInstance } from '../src/dicom/read/read-instance.js';
import { decodeRleFrame } from '../src/dicom/read/rle.js';
import { readStudy } from '../src/study/read-study.js';
import { cineInstances, modalityValue, storedValue } from './study-fixtures.js';
import { sharedData } from './support/paths.js';

const corpus = join(sharedData, 'dicom-corpus');
const read = (path: string) => readInstance(path, new Uint8Array(readFileSync(join(corpus, path))));

function assertSameFrames(reference: readonly Float32Array[], other: readonly Float32Array[], name: string): void {
  assert.equal(other.length, reference.length, `${name}: frame count`);
  reference.forEach((frame, f) => {
    const differing = frame.reduce((n, v, i) => n + (v === other[f]![i] ? 0 : 1), 0);
    assert.equal(differing, 0, `${name}: frame ${f + 1} has ${differing} differing pixels`);
  });
}

/** The 16-bit little-endian values of the first native PixelData element, found by its tag bytes. */
function rawPixelValues(path: string, signed: boolean): number[] {
  const bytes = new Uint8Array(readFileSync(join(corpus, path)));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 132; i + 12 < bytes.length; i++) {
    if (view.getUint16(i, true) === 0x7fe0 && view.getUint16(i + 2, true) === 0x0010 && bytes[i + 4] === 0x4f && bytes[i + 5] === 0x57) {
      const length = view.getUint32(i + 8, true);
      const values: number[] = [];
      for (let k = 0; k < length / 2; k++) values.push(signed ? view.getInt16(i + 12 + 2 * k, true) : view.getUint16(i + 12 + 2 * k, true));
      return values;
    }
  }
  throw new Error(`no OW PixelData in ${path}`);
}

describe('lossless decoders give the pixels of the uncompressed twin', () => {
  it('MR_small: the explicit VR reader agrees with the raw bytes', () => {
    const instance = read('pydicom/MR_small.dcm');
    const raw = rawPixelValues('pydicom/MR_small.dcm', instance.format.pixelRepresentation === 1);
    assert.deepEqual(Array.from(instance.frames[0]!), raw);
  });

  const mrSmall = read('pydicom/MR_small.dcm').frames;
  for (const twin of ['MR_small_implicit', 'MR_small_bigendian', 'MR_small_expb', 'MR_small_RLE', 'MR_small_jp2klossless', 'MR_small_jpeg_ls_lossless', 'MR_small_padded']) {
    it(`${twin} equals MR_small`, () => assertSameFrames(mrSmall, read(`pydicom/${twin}.dcm`).frames, twin));
  }

  it('emri_small (multi-frame): the reader agrees with the raw bytes, BitsStored 12 kept', () => {
    const instance = read('pydicom-data/emri_small.dcm');
    assert.equal(instance.format.bitsStored, 12);
    const raw = rawPixelValues('pydicom-data/emri_small.dcm', false).map((v) => v & 0x0fff);
    assert.deepEqual(instance.frames.flatMap((f) => Array.from(f)), raw);
  });

  const emri = read('pydicom-data/emri_small.dcm').frames;
  for (const twin of ['emri_small_RLE', 'emri_small_big_endian', 'emri_small_jpeg_2k_lossless', 'emri_small_jpeg_ls_lossless', 'emri_small_jpeg_2k_lossless_too_short']) {
    it(`${twin} equals emri_small, all 10 frames`, () => assertSameFrames(emri, read(`pydicom-data/${twin}.dcm`).frames, twin));
  }

  it('deflated SEG frames equal the explicit-VR single-frame SEG', () => {
    const deflated = read('pydicom-data/liver_deflate.dcm').frames;
    const single = read('pydicom/liver_1frame.dcm').frames[0]!;
    assert.ok(deflated.some((frame) => frame.every((v, i) => v === single[i])), 'one deflated frame is the single-frame SEG');
    assert.ok(deflated.every((frame) => frame.every((v) => v === 0 || v === 1)), 'binary segmentation');
  });
});

describe('twins encoded by DCMTK decode to the original pixels', () => {
  const source = join(corpus, 'pydicom/MR_small.dcm');
  const original = read('pydicom/MR_small.dcm').frames;
  const lossless: Array<[string, string, string[]]> = [
    ['JPEG lossless SV1 (dcmcjpeg)', 'dcmcjpeg', ['--encode-lossless-sv1']],
    ['JPEG lossless process 14, predictor 6 (dcmcjpeg)', 'dcmcjpeg', ['--encode-lossless', '--selection-value', '6']],
    ['RLE lossless (dcmcrle)', 'dcmcrle', []],
    ['JPEG-LS lossless (dcmcjpls)', 'dcmcjpls', ['--encode-lossless']],
  ];
  for (const [name, tool, args] of lossless) {
    it(name, () => {
      const dir = mkdtempSync(join(tmpdir(), 'pulse-codec-'));
      try {
        const out = join(dir, 'twin.dcm');
        execFileSync(tool, [...args, source, out]);
        const twin = readInstance(name, new Uint8Array(readFileSync(out)));
        assert.notEqual(twin.transferSyntaxUID, '1.2.840.10008.1.2.1');
        assertSameFrames(original, twin.frames, name);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  it('JPEG baseline 8-bit (dcmcjpeg, lossy) stays close to the original', () => {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-codec-'));
    try {
      const out = join(dir, 'baseline.dcm');
      // 8-bit input for the baseline process: dcmcjpeg rescales 16-bit data, so compare correlation.
      execFileSync('dcmcjpeg', ['--encode-baseline', source, out]);
      const twin = readInstance('baseline', new Uint8Array(readFileSync(out)));
      assert.equal(twin.transferSyntaxUID, '1.2.840.10008.1.2.4.50');
      const a = original[0]!;
      const b = twin.frames[0]!;
      const mean = (x: Float32Array): number => x.reduce((s, v) => s + v, 0) / x.length;
      const ma = mean(a);
      const mb = mean(b);
      let sab = 0, saa = 0, sbb = 0;
      for (let i = 0; i < a.length; i++) {
        sab += (a[i]! - ma) * (b[i]! - mb);
        saa += (a[i]! - ma) ** 2;
        sbb += (b[i]! - mb) ** 2;
      }
      assert.ok(sab / Math.sqrt(saa * sbb) > 0.98, 'correlation with the original');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('lossy and colour decoders give plausible images', () => {
  it('JPEG baseline colour comes out as luminance in 0..255 with structure', () => {
    const frame = read('pydicom/SC_rgb_jpeg_dcmtk.dcm').frames[0]!;
    const min = Math.min(...frame);
    const max = Math.max(...frame);
    assert.ok(min >= 0 && max <= 255 && max - min > 100, `range ${min}..${max}`);
  });

  it('JPEG 2000 irreversible MR stays within its 12-bit range', () => {
    const frame = read('pydicom-data/MR2_J2KI.dcm').frames[0]!;
    let max = 0;
    for (const v of frame) max = Math.max(max, v);
    assert.ok(max > 100 && max < 4096, `max ${max}`);
  });
});

/** A PackBits encoder for tests: replicate runs where bytes repeat, literal runs elsewhere. */
function packBits(bytes: Uint8Array): number[] {
  const out: number[] = [];
  let i = 0;
  while (i < bytes.length) {
    let run = 1;
    while (i + run < bytes.length && run < 128 && bytes[i + run] === bytes[i]) run++;
    if (run >= 3) {
      out.push(257 - run, bytes[i]!);
      i += run;
      continue;
    }
    const start = i;
    while (i < bytes.length && i - start < 128 && !(i + 2 < bytes.length && bytes[i] === bytes[i + 1] && bytes[i] === bytes[i + 2])) i++;
    out.push(i - start - 1, ...bytes.subarray(start, i));
  }
  out.push(128); // a no-op byte, which decoders must skip
  return out;
}

/** RLE Lossless frame of 16-bit samples: segment 1 the high bytes, segment 2 the low bytes. */
function encodeRle16(values: Int16Array): Uint8Array {
  const u = new Uint16Array(values.buffer);
  const high = packBits(Uint8Array.from(u, (v) => v >> 8));
  const low = packBits(Uint8Array.from(u, (v) => v & 0xff));
  const frame = new Uint8Array(64 + high.length + low.length + ((high.length + low.length) % 2));
  const header = new DataView(frame.buffer);
  header.setUint32(0, 2, true);
  header.setUint32(4, 64, true);
  header.setUint32(8, 64 + high.length, true);
  frame.set(high, 64);
  frame.set(low, 64 + high.length);
  return frame;
}

describe('RLE Lossless decoder', () => {
  it('decodes literal, replicate and no-op runs of signed 16-bit samples', () => {
    const values = Int16Array.from([0, 0, 0, 0, -1, -1, -1, 300, -300, 7, 7, 1234, -32768, 32767, 5, 5, 5, 5, 5, 5]);
    const decoded = new Int16Array(decodeRleFrame(encodeRle16(values), values.length, 1, 2).buffer);
    assert.deepEqual(Array.from(decoded), Array.from(values));
  });

  it('rejects a frame whose segment count does not match the pixel format', () => {
    const frame = encodeRle16(Int16Array.from([1, 2, 3]));
    assert.throws(() => decodeRleFrame(frame, 3, 1, 1), /2 segments, expected 1/);
    assert.throws(() => decodeRleFrame(frame.subarray(0, 70), 3, 1, 2), /RLE segment \d offset out of range|decodes to/);
  });

  it('a whole cine study stored as RLE Lossless reads like the uncompressed one', () => {
    const rows = 24;
    const columns = 32;
    const study = readStudy(
      cineInstances({
        transferSyntaxUID: '1.2.840.10008.1.2.5',
        shuffleSeed: 2,
        patch: (d, s, p) => {
          const values = new Int16Array(rows * columns);
          for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) values[r * columns + c] = storedValue(s, p, r, c);
          d['PixelData'] = [encodeRle16(values).buffer];
          d['_vrMap'] = { PixelData: 'OB' };
        },
      }),
    );
    assert.equal(study.grid.slices, 4);
    for (let s = 0; s < 4; s++) for (let p = 0; p < 3; p++) assert.equal(study.grid.images[s]![p]!.pixels[7 * columns + 9], modalityValue(s, p, 7, 9));
  });
});
