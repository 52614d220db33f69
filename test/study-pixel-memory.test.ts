/**
 * What a decoded study holds (issue 13, memory): an MR study's pixels stay the stored 16-bit integers,
 * viewing the instances' own bytes, instead of a Float32 copy of every image (twice the bytes, the
 * largest holding of the service's peak); a rescale still yields Float32 modality values. The values
 * themselves are those the Float32 reader gives.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readInstance } from '../src/dicom/read/read-instance.js';
import { readStudy } from '../src/study/read-study.js';
import { generateStudy } from '../src/synth/index.js';

describe('the pixels a decoded study holds', () => {
  it('keeps an MR study\'s stored integers as views on the instances\' bytes, with the Float32 reader\'s values', () => {
    const synth = generateStudy({ seed: 21, domain: 'cine-mri', slices: 3, phases: 2 });
    const instances = synth.files.map((f) => ({ source: f.name, bytes: f.bytes }));
    const study = readStudy(instances);
    const buffers = new Set(instances.map((i) => i.bytes.buffer));
    const bySop = new Map(instances.map((i) => [readInstance(i.source, i.bytes).dataset['SOPInstanceUID'], i]));
    for (const row of study.grid.images) {
      for (const image of row) {
        assert.ok(image.pixels instanceof Uint16Array, `${image.sopInstanceUID}: ${image.pixels.constructor.name}, not the stored Uint16`);
        assert.ok(buffers.has(image.pixels.buffer as ArrayBuffer), `${image.sopInstanceUID}: pixels copied, not viewed in the instance's bytes`);
        const source = bySop.get(image.sopInstanceUID)!;
        const float = readInstance(source.source, source.bytes).frames[0]!;
        assert.deepEqual(Float32Array.from(image.pixels), float);
      }
    }
  });

  it('masks stored values with bits above BitsStored into a copy (the view would read them wrong)', () => {
    const synth = generateStudy({ seed: 22, domain: 'cine-mri', slices: 3, phases: 2 });
    const instances = synth.files.map((f) => ({ source: f.name, bytes: f.bytes.slice() }));
    const first = readStudy(instances).grid.images[0]![0]!;
    const stored = readInstance('probe', instances[0]!.bytes).dataset['BitsStored'] as number;
    assert.ok(stored < 16, `the generator writes ${stored} bits stored; this test needs fewer than 16`);
    // Set the top bit of one pixel of the instance behind grid cell [0][0], in its file bytes.
    const pixels = first.pixels as Uint16Array;
    const owner = instances.find((i) => i.bytes.buffer === pixels.buffer)!;
    const value = pixels[5]!;
    pixels[5] = value | 0x8000;
    const again = readStudy(instances).grid.images[0]![0]!;
    assert.ok(again.pixels instanceof Uint16Array);
    assert.notEqual(again.pixels.buffer, owner.bytes.buffer, 'a sample with bits above BitsStored must not be read through a view');
    assert.equal(again.pixels[5], value);
  });

  it('gives Float32 modality values where a rescale applies (CT-like: RescaleIntercept)', () => {
    const synth = generateStudy({ seed: 23, domain: 'ct-like', slices: 3, phases: 2 });
    const instances = synth.files.map((f) => ({ source: f.name, bytes: f.bytes }));
    const study = readStudy(instances, { modalities: ['CT'], sopClassUIDs: [synth.truth.sopClassUID] });
    const image = study.grid.images[0]![0]!;
    assert.ok(image.pixels instanceof Float32Array);
    const bySop = instances.find((i) => readInstance(i.source, i.bytes).dataset['SOPInstanceUID'] === image.sopInstanceUID)!;
    const decoded = readInstance(bySop.source, bySop.bytes);
    const intercept = Number(decoded.dataset['RescaleIntercept']);
    assert.notEqual(intercept, 0);
    assert.deepEqual(image.pixels, Float32Array.from(decoded.frames[0]!, (v) => v + intercept));
  });
});
