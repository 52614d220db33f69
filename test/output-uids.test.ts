/**
 * Deterministic output UIDs: the SEG, SR and overlay SOP Instance and Series UIDs depend on every
 * input that makes the result different (study, source series, model name, model version,
 * calibration) and on nothing else. A UID that ignored one of them would let a recalibrated or
 * upgraded result reuse the old UID, and Orthanc would silently keep the old object.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isValidUid } from '../src/dicom/uid.js';
import { segmentationUids } from '../src/dicom/seg/sop.js';
import { measurementReportUids } from '../src/dicom/sr/sop.js';
import { overlayUids } from '../src/dicom/overlay/sop.js';

type Algorithm = { name: string; version: string; calibration: string | null };
type UidsOf = (study: string, series: string, algorithm: Algorithm) => { seriesInstanceUID: string; sopInstanceUID: string };

const writers: Record<string, UidsOf> = { SEG: segmentationUids, SR: measurementReportUids, overlay: overlayUids };
const base = { study: '1.2.826.0.1.3680043.8.498.1', series: '1.2.826.0.1.3680043.8.498.2', algorithm: { name: 'pulse-lite', version: '1.0.0', calibration: null } as Algorithm };

/** One input changed at a time; each must change both UIDs of every writer. */
const variants: Record<string, typeof base> = {
  study: { ...base, study: '1.2.826.0.1.3680043.8.498.3' },
  'source series': { ...base, series: '1.2.826.0.1.3680043.8.498.4' },
  'model name': { ...base, algorithm: { ...base.algorithm, name: 'pulse-full' } },
  'model version': { ...base, algorithm: { ...base.algorithm, version: '1.0.1' } },
  'calibration (none -> one)': { ...base, algorithm: { ...base.algorithm, calibration: 'site-a-2026-11' } },
};

const uidsOf = (write: UidsOf, v: typeof base) => write(v.study, v.series, v.algorithm);

test('the same inputs give the same, valid output UIDs (idempotent writes)', () => {
  for (const [name, write] of Object.entries(writers)) {
    const a = uidsOf(write, base), b = uidsOf(write, { ...base, algorithm: { ...base.algorithm } });
    assert.deepEqual(a, b, name);
    assert.ok(isValidUid(a.sopInstanceUID) && isValidUid(a.seriesInstanceUID), `${name}: ${JSON.stringify(a)}`);
    assert.notEqual(a.sopInstanceUID, a.seriesInstanceUID, `${name}: series and instance UIDs differ`);
  }
});

for (const [input, variant] of Object.entries(variants)) {
  test(`changing the ${input} changes the SEG, SR and overlay UIDs`, () => {
    for (const [name, write] of Object.entries(writers)) {
      const before = uidsOf(write, base), after = uidsOf(write, variant);
      assert.notEqual(after.sopInstanceUID, before.sopInstanceUID, `${name} SOPInstanceUID ignores the ${input}`);
      assert.notEqual(after.seriesInstanceUID, before.seriesInstanceUID, `${name} SeriesInstanceUID ignores the ${input}`);
    }
  });
}

test('one calibration differs from another, and from none', () => {
  for (const [name, write] of Object.entries(writers)) {
    const uids = [null, 'site-a-2026-11', 'site-a-2026-12'].map((calibration) => write(base.study, base.series, { ...base.algorithm, calibration }).sopInstanceUID);
    assert.equal(new Set(uids).size, 3, `${name}: ${uids.join(' ')}`);
  }
});

test('SEG, SR and overlay never share a UID', () => {
  const all = Object.values(writers).flatMap((write) => Object.values(uidsOf(write, base)));
  assert.equal(new Set(all).size, all.length);
});

test('the UIDs of the same inputs stay the same from one release to the next', () => {
  // Recorded from the rule as released: a changed rule gives every processed study a second SEG, SR
  // and overlay on its next run (Orthanc keeps both), so change it only on purpose, with a note.
  const recorded: Record<string, { seriesInstanceUID: string; sopInstanceUID: string }> = {
    SEG: { seriesInstanceUID: '2.25.140220136169951357554102971047327780401', sopInstanceUID: '2.25.302200404918480177171821363429788158943' },
    SR: { seriesInstanceUID: '2.25.10517566594471276809101307499319451451', sopInstanceUID: '2.25.221029417871070872432426366879991521285' },
    overlay: { seriesInstanceUID: '2.25.123205424766375035836497508676779668880', sopInstanceUID: '2.25.265443478682442585652077919106610226131' },
  };
  for (const [name, write] of Object.entries(writers)) assert.deepEqual(uidsOf(write, base), recorded[name], name);
});
