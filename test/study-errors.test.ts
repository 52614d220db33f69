import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readStudy } from '../src/study/read-study.js';
import { BadInputError, UnsupportedEncodingError } from '../src/core/errors.js';
import { cineInstances, enhancedCineInstance, SERIES_UID, STUDY_UID, writeDicom } from './study-fixtures.js';

/** Runs readStudy expecting a BadInputError whose message matches `pattern`, names the study and leaks no patient data. */
function rejects(instances: Parameters<typeof readStudy>[0], pattern: RegExp, errorClass: typeof BadInputError = BadInputError): BadInputError {
  let caught: unknown;
  try {
    readStudy(instances);
  } catch (error) {
    caught = error;
  }
  assert.ok(caught instanceof errorClass, `expected ${errorClass.name}, got ${String(caught)}`);
  const error = caught as BadInputError;
  assert.match(error.message, pattern);
  assert.ok(error.message.includes(STUDY_UID), `names the study: ${error.message}`);
  for (const secret of ['Fixture', 'FIXTURE-1', 'ACC1', '1970']) assert.ok(!error.message.includes(secret), `no patient data in: ${error.message}`);
  assert.ok(!error.message.includes('\n'), 'one line');
  return error;
}

describe('readStudy rejects what it cannot handle, with a clear error', () => {
  it('no cine series: only a localizer', () => {
    rejects(cineInstances({ seriesDescription: 'Localizer' }), /no cine short-axis series.*exclude pattern/);
  });

  it('no cine series: nothing is MR', () => {
    rejects(cineInstances({ patch: (d) => Object.assign(d, { Modality: 'CT' }) }), /no cine short-axis series.*Modality CT/);
  });

  it('a single slice', () => {
    rejects(cineInstances({ slices: 1 }), /single slice/);
  });

  it('a single phase', () => {
    rejects(cineInstances({ phases: 1 }), /1 phase\(s\), fewer than the 2 required/);
  });

  it('missing pixel data', () => {
    rejects(cineInstances({ patch: (d, s, p) => { if (s === 2 && p === 1) delete d['PixelData']; } }), /PixelData \(7FE0,0010\) is missing/);
  });

  it('truncated pixel data', () => {
    const instances = cineInstances();
    instances[5] = { ...instances[5]!, bytes: instances[5]!.bytes.subarray(0, instances[5]!.bytes.length - 100) };
    rejects(instances, /PixelData has \d+ bytes, \d+ expected/);
  });

  it('Rows/Columns that differ within the stack', () => {
    rejects(
      cineInstances({ patch: (d, s, p) => { if (s === 1 && p === 2) Object.assign(d, { Rows: 12, PixelData: new ArrayBuffer(12 * 32 * 2) }); } }),
      /Rows\/Columns differ within the stack: 32x24 and 32x12/,
    );
  });

  it('inconsistent phases per slice, naming the slice', () => {
    const instances = cineInstances().filter((f) => f.source !== 'img-01-2.dcm');
    rejects(instances, /inconsistent phases per slice: slice 2 has 2, the others 3/);
  });

  it('two images of one slice at the same trigger time', () => {
    rejects(cineInstances({ patch: (d, s, p) => { if (s === 3 && p === 2) d['TriggerTime'] = 41; } }), /slice 4 of 4 .*2 images have TriggerTime within 5 ms of 40 ms/);
  });

  it('orientations that differ beyond the tolerance', () => {
    rejects(cineInstances({ orientationWobbleDeg: 3 }), /ImageOrientationPatient differs by \d+(\.\d+)?° within the series/);
  });

  it('missing ImagePositionPatient', () => {
    rejects(cineInstances({ patch: (d, s) => { if (s === 0) delete d['ImagePositionPatient']; } }), /ImagePositionPatient is missing/);
  });

  it('a transfer syntax it cannot decode, named in an UnsupportedEncodingError', () => {
    const mpeg2 = '1.2.840.10008.1.2.4.100';
    const error = rejects(
      cineInstances({ transferSyntaxUID: mpeg2, patch: (d) => { d['PixelData'] = [new Uint8Array([0, 0, 1, 0xb3, 1, 2, 3, 4]).buffer]; } }),
      new RegExp(`transfer syntax ${mpeg2.replaceAll('.', '\\.')} cannot be decoded here`),
      UnsupportedEncodingError,
    );
    assert.equal((error as UnsupportedEncodingError).transferSyntaxUID, mpeg2);
  });

  it('an Enhanced MR instance whose frames are fewer than its functional groups say', () => {
    const instance = enhancedCineInstance({ patch: (d) => { d['PixelData'] = new ArrayBuffer(24 * 32 * 2 * 5); } });
    rejects([instance], /PixelData has \d+ bytes, \d+ expected for 12 frame/);
  });

  it('no instances, or nothing readable', () => {
    assert.throws(() => readStudy([]), BadInputError);
    assert.throws(() => readStudy([{ source: 'junk.bin', bytes: new Uint8Array(64).fill(7) }]), (e: unknown) => e instanceof BadInputError && /junk\.bin/.test(e.message));
  });

  it('a broken file beside a good study is skipped with a decision, not fatal', () => {
    const decisions: string[] = [];
    const junk = { source: 'junk.dcm', bytes: writeDicom({ SOPClassUID: '1.2.840.10008.5.1.4.1.1.7', SOPInstanceUID: `${SERIES_UID}.77`, StudyInstanceUID: STUDY_UID }).subarray(0, 150) };
    const study = readStudy([...cineInstances(), junk], undefined, (d) => decisions.push(d.reason));
    assert.equal(study.grid.slices, 4);
    assert.ok(decisions.some((r) => r.includes('junk.dcm')), decisions.join(' | '));
  });
});
