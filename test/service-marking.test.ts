import { test } from 'node:test';
import assert from 'node:assert/strict';
import { featuresOf } from '../src/orthanc/metadata.js';
import { stableStudyIds, type OrthancChange } from '../src/orthanc/changes.js';
import { modelKeyOf } from '../src/core/model-identity.js';
import { priorityOf, studyLabels, studyMarks } from '../src/service/marking.js';
import { buildDicomMultipart, parseMultipart } from '../src/orthanc/multipart.js';
import type { StudyResult } from '../src/core/result.js';

function result(lvef: number, label = 'DCM'): StudyResult {
  return {
    studyInstanceUID: '1.2', seriesInstanceUID: '1.2.1', grid: { slices: 6, phases: 8 }, phases: { ed: 0, es: 3 },
    measurements: { lvedv_ml: 200, lvesv_ml: 200 - 2 * lvef, lvsv_ml: 2 * lvef, lvef_pct: lvef, lv_mass_g: 150, rvedv_ml: 150, rvesv_ml: 70, rvef_pct: 53 },
    diagnosis: { label, probabilities: { [label]: 0.8 } }, narrative: '', qc: { status: 'pass', reasons: [], ood: null }, model: { name: 'pulse-lite', version: '1.0.0', calibration: null }, timings_ms: {},
  };
}

test('the model key names model, version and calibration', () => {
  assert.equal(modelKeyOf({ name: 'pulse-lite', version: '1.2.0', calibration: null }), 'pulse-lite@1.2.0');
  assert.equal(modelKeyOf({ name: 'pulse-lite', version: '1.2.0', calibration: 'site-a-3' }), 'pulse-lite@1.2.0+site-a-3');
});

test('a study is urgent when LVEF is below the threshold', () => {
  assert.equal(priorityOf(result(34.9), 35), 'urgent');
  assert.equal(priorityOf(result(35), 35), 'routine');
  assert.equal(priorityOf(result(Number.NaN), 35), 'routine');
  assert.deepEqual(studyMarks(result(20), 'pulse-lite@1.0.0', 35), { PulseStatus: 'done', PulseDiagnosis: 'DCM', PulseModel: 'pulse-lite@1.0.0', PulsePriority: 'urgent' });
  assert.deepEqual(studyLabels(result(20), 35), ['pulse-done', 'pulse-dcm', 'pulse-urgent']);
  assert.deepEqual(studyLabels(result(60, 'NOR'), 35), ['pulse-done', 'pulse-nor']);
});

test('labels are used from Orthanc 1.12 on, detected from /system', () => {
  const system = (Version: string) => ({ Version, ApiVersion: 0, DicomAet: '', DicomPort: 0, HttpPort: 0, Name: '' });
  assert.equal(featuresOf(system('1.10.1')).labels, false);
  assert.equal(featuresOf(system('1.11.3')).labels, false);
  assert.equal(featuresOf(system('1.12.0')).labels, true);
  assert.equal(featuresOf(system('1.12.5')).labels, true);
  assert.equal(featuresOf(system('mainline')).labels, true);
});

test('StableStudy changes are picked out of the feed, once each', () => {
  const change = (Seq: number, ChangeType: string, ID: string, ResourceType = 'Study'): OrthancChange => ({ Seq, ChangeType, ID, ResourceType, Date: '', Path: '' });
  assert.deepEqual(
    stableStudyIds([change(1, 'NewStudy', 'a'), change(2, 'StableSeries', 's', 'Series'), change(3, 'StableStudy', 'a'), change(4, 'StableStudy', 'b'), change(5, 'StableStudy', 'a')]),
    ['a', 'b'],
  );
});

test('multipart answers are split into their parts, binary bodies intact', () => {
  const part1 = Buffer.from([0, 1, 2, 13, 10, 45, 45, 3]);
  const part2 = Buffer.from('DICM-second');
  const body = Buffer.concat([
    Buffer.from('--abc\r\nContent-Type: application/dicom\r\n\r\n'), part1,
    Buffer.from('\r\n--abc\r\nContent-Type: application/dicom\r\nContent-Length: 11\r\n\r\n'), part2,
    Buffer.from('\r\n--abc--\r\n'),
  ]);
  const parts = parseMultipart(new Uint8Array(body), 'multipart/related; type="application/dicom"; boundary=abc');
  assert.deepEqual(parts.map((p) => Buffer.from(p)), [part1, part2]);
  assert.throws(() => parseMultipart(new Uint8Array(body), 'multipart/related'), /without a boundary/);
});

test('a STOW-RS body built here splits back into the same instances', () => {
  const instances = [new Uint8Array([1, 2, 3, 13, 10]), new Uint8Array(0), new Uint8Array(Buffer.from('--pulse-x\r\n'))];
  const { body, contentType } = buildDicomMultipart(instances, 'pulse-fixed');
  assert.equal(contentType, 'multipart/related; type="application/dicom"; boundary=pulse-fixed');
  assert.deepEqual(parseMultipart(body, contentType).map((p) => Buffer.from(p)), instances.map((i) => Buffer.from(i)));
});
