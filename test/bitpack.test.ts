import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import dcmjs from 'dcmjs';
import { packBits, unpackBits } from '../src/dicom/seg/bitpack.js';

const framesArb = fc
  .record({ rows: fc.integer({ min: 1, max: 23 }), columns: fc.integer({ min: 1, max: 23 }), count: fc.integer({ min: 1, max: 6 }) })
  .chain(({ rows, columns, count }) =>
    fc.record({
      pixelsPerFrame: fc.constant(rows * columns),
      frames: fc.array(
        fc.oneof(
          fc.uint8Array({ minLength: rows * columns, maxLength: rows * columns, min: 0, max: 1 }),
          fc.constant(new Uint8Array(rows * columns)), // all zero
          fc.constant(new Uint8Array(rows * columns).fill(1)), // all one
        ),
        { minLength: count, maxLength: count },
      ),
    }),
  );

test('unpack(pack(frames)) gives the frames back, for any size (rows x columns not a multiple of 8 included)', () => {
  fc.assert(
    fc.property(framesArb, ({ pixelsPerFrame, frames }) => {
      const packed = packBits(frames, pixelsPerFrame);
      assert.deepEqual(unpackBits(packed, frames.length, pixelsPerFrame), frames);
    }),
    { numRuns: 300 },
  );
});

test('frames are packed bit-continuously, LSB first, padded only at the end to an even length', () => {
  fc.assert(
    fc.property(framesArb, ({ pixelsPerFrame, frames }) => {
      const packed = packBits(frames, pixelsPerFrame);
      const bits = frames.length * pixelsPerFrame;
      const exact = Math.ceil(bits / 8);
      assert.equal(packed.length, exact + (exact % 2));
      // dcmjs packs one flat array the same way (PS3.5 8.1.1): concatenated frames must match it.
      const flat = new Uint8Array(bits);
      frames.forEach((f, i) => flat.set(f, i * pixelsPerFrame));
      const reference = new Uint8Array(dcmjs.data.BitArray.pack(flat));
      assert.deepEqual(packed.subarray(0, exact), reference.subarray(0, exact));
      for (let i = exact; i < packed.length; i++) assert.equal(packed[i], 0);
    }),
    { numRuns: 300 },
  );
});

test('a 3x3 frame followed by another starts the second frame mid-byte', () => {
  const a = new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 1]);
  const b = new Uint8Array([1, 1, 0, 0, 0, 0, 0, 0, 0]);
  const packed = packBits([a, b], 9);
  // bits: a = 1,0,0,0,0,0,0,0 | 1 ; b starts at bit 9: 1,1 -> byte1 = bit0 (a[8]) + bit1 + bit2 = 0b111
  assert.deepEqual([...packed], [0b00000001, 0b00000111, 0, 0]);
});

test('packBits rejects frames of the wrong size and a bad pixel count', () => {
  assert.throws(() => packBits([new Uint8Array(5)], 6), /frame 0 has 5 pixels, expected 6/);
  assert.throws(() => packBits([], 0), /pixelsPerFrame must be a positive integer/);
  assert.throws(() => unpackBits(new Uint8Array(1), 2, 8), /1 bytes, 2 needed/);
});
