/**
 * What real scanners write, each case a generated fixture (test/study-fixtures.ts, dcmjs): the reader
 * ends every study in a grid or in a BadInputError that names the study and the reason.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readStudy } from '../src/study/read-study.js';
import { BadInputError } from '../src/core/errors.js';
import type { CineStudy, SeriesDecision } from '../src/study/types.js';
import { cineInstances, enhancedCineInstance, modalityValue, SERIES_UID, SLICE_GAP_MM, STUDY_UID, storedValue } from './study-fixtures.js';

const SLICES = 4;
const PHASES = 3;
const COLUMNS = 32;

/** Every cell holds the image of its slice (ascending along the normal) and phase, modality LUT applied. */
function assertGrid(study: CineStudy): void {
  assert.equal(study.grid.slices, SLICES);
  assert.equal(study.grid.phases, PHASES);
  for (let s = 0; s < SLICES; s++) {
    for (let p = 0; p < PHASES; p++) {
      const pixels = study.grid.images[s]![p]!.pixels;
      for (const [r, c] of [[0, 0], [5, 17], [23, 31]] as const) {
        assert.equal(pixels[r * COLUMNS + c], modalityValue(s, p, r, c), `slice ${s} phase ${p} pixel ${r},${c}`);
      }
    }
  }
  for (let s = 1; s < SLICES; s++) assert.ok(Math.abs(study.grid.slicePositionsMm[s]! - study.grid.slicePositionsMm[s - 1]! - SLICE_GAP_MM) < 1e-3);
}

function read(instances: Parameters<typeof readStudy>[0]): { study: CineStudy; decisions: SeriesDecision[] } {
  const decisions: SeriesDecision[] = [];
  const study = readStudy(instances, undefined, (d) => decisions.push(d));
  return { study, decisions };
}

function rejects(instances: Parameters<typeof readStudy>[0], pattern: RegExp): void {
  assert.throws(
    () => readStudy(instances),
    (error: unknown) => error instanceof BadInputError && pattern.test(error.message) && error.message.includes(STUDY_UID) && error.studyInstanceUID === STUDY_UID,
  );
}

type PerFrame = Array<Record<string, Array<Record<string, unknown>>>>;

describe('real scanners: rescale', () => {
  it("Philips: the standard RescaleSlope/Intercept is applied, the private scale slope (2005,100E) is not", () => {
    const philips = cineInstances({
      patch: (d) => Object.assign(d, { Manufacturer: 'Philips Medical Systems' }),
      rawElements: {
        '20050010': { vr: 'LO', Value: ['Philips MR Imaging DD 001'] },
        '2005100D': { vr: 'FL', Value: [-3.5] },
        '2005100E': { vr: 'FL', Value: [0.00421] },
      },
    });
    assertGrid(read(philips).study);
  });

  it('Philips Enhanced MR: a rescale per frame in PixelValueTransformationSequence', () => {
    const instance = enhancedCineInstance({
      patch: (d) => {
        const shared = (d['SharedFunctionalGroupsSequence'] as PerFrame)[0]!;
        const transform = shared['PixelValueTransformationSequence']!;
        delete shared['PixelValueTransformationSequence'];
        for (const group of d['PerFrameFunctionalGroupsSequence'] as PerFrame) group['PixelValueTransformationSequence'] = transform;
      },
    });
    assertGrid(read([instance]).study);
  });
});

describe('real scanners: Enhanced MR multi-frame', () => {
  it('per-frame geometry, pixel measures and trigger delay, frames given base to apex descending', () => {
    const instance = enhancedCineInstance({
      reversedSlices: true,
      patch: (d) => {
        const shared = (d['SharedFunctionalGroupsSequence'] as PerFrame)[0]!;
        const measures = shared['PixelMeasuresSequence']!;
        delete shared['PixelMeasuresSequence'];
        const groups = d['PerFrameFunctionalGroupsSequence'] as PerFrame;
        for (const group of groups) {
          group['PixelMeasuresSequence'] = measures;
          // Only the measured delay (some scanners leave the nominal one out), no temporal index.
          const cardiac = group['CardiacSynchronizationSequence']![0]!;
          cardiac['ActualCardiacTriggerDelayTime'] = cardiac['NominalCardiacTriggerDelayTime'];
          delete cardiac['NominalCardiacTriggerDelayTime'];
          delete group['FrameContentSequence']![0]!['TemporalPositionIndex'];
        }
        // Frames stored from the last slice position to the first.
        groups.reverse();
        const pixels = new Int16Array(d['PixelData'] as ArrayBuffer);
        const frame = pixels.length / groups.length;
        const reversed = new Int16Array(pixels.length);
        for (let f = 0; f < groups.length; f++) reversed.set(pixels.subarray(f * frame, (f + 1) * frame), (groups.length - 1 - f) * frame);
        d['PixelData'] = reversed.buffer;
      },
    });
    const { study, decisions } = read([instance]);
    assertGrid(study);
    assert.deepEqual(study.grid.phaseTimesMs, [0, 40, 80]);
    assert.match(decisions[0]!.reason, /phases by TriggerTime/);
  });
});

describe('real scanners: phases without usable trigger times', () => {
  it('TriggerTime missing: phases by InstanceNumber, times from the nominal interval', () => {
    const { study, decisions } = read(cineInstances({ shuffleSeed: 2, patch: (d) => { delete d['TriggerTime']; } }));
    assertGrid(study);
    assert.deepEqual(study.grid.phaseTimesMs, [0, 40, 80]);
    assert.match(decisions[0]!.reason, /phases by InstanceNumber\)/);
  });

  it('TriggerTime constant (0 on every image): passed over for InstanceNumber, and the log says so', () => {
    const { study, decisions } = read(cineInstances({ shuffleSeed: 3, patch: (d) => Object.assign(d, { TriggerTime: 0, NominalInterval: 900 }) }));
    assertGrid(study);
    assert.deepEqual(study.grid.phaseTimesMs, [0, 300, 600], 'R-R / phases from NominalInterval');
    assert.match(decisions[0]!.reason, /phases by InstanceNumber; TriggerTime is constant within each slice/);
  });

  it('TriggerTime and InstanceNumber constant: phases by AcquisitionTime, times from it', () => {
    const acquired = (s: number, p: number): string => `1030${String(10 + s).padStart(2, '0')}.${String(p * 45).padStart(3, '0')}`;
    const { study, decisions } = read(cineInstances({ shuffleSeed: 4, lyingInstanceNumber: true, patch: (d, s, p) => Object.assign(d, { TriggerTime: 0, InstanceNumber: 1, AcquisitionTime: acquired(s, p) }) }));
    assertGrid(study);
    assert.deepEqual(study.grid.phaseTimesMs, [0, 45, 90]);
    assert.match(decisions[0]!.reason, /phases by AcquisitionTime; TriggerTime is constant within each slice, InstanceNumber is constant within each slice/);
  });

  it('nothing tells the phases apart: a typed error naming the study', () => {
    rejects(cineInstances({ patch: (d) => { delete d['TriggerTime']; delete d['InstanceNumber']; } }), /neither TemporalPositionIndex, TriggerTime, InstanceNumber nor AcquisitionTime/);
    rejects(cineInstances({ patch: (d) => Object.assign(d, { TriggerTime: 0, InstanceNumber: 1 }) }), /2 images have TriggerTime within 5 ms of 0 ms|3 images have TriggerTime/);
  });
});

describe('real scanners: slice order', () => {
  it('slice positions stored descending (InstanceNumber from the apex) give the same ascending grid', () => {
    const { study } = read(cineInstances({ reversedSlices: true }));
    assertGrid(study);
    const reference = readStudy(cineInstances());
    assert.deepEqual(study.grid.slicePositionsMm, reference.grid.slicePositionsMm);
  });
});

describe('real scanners: more than one stack', () => {
  const repeat = (uid: string, number: number, time: string, slices = SLICES): ReturnType<typeof cineInstances> =>
    cineInstances({ seriesInstanceUID: uid, slices, patch: (d) => Object.assign(d, { SeriesNumber: number, SeriesDate: '20240101', SeriesTime: time }) });

  it('two complete stacks with the same description: the later acquisition is taken, and the decision says so', () => {
    // The later one has the lower SeriesNumber: acquisition time decides, not numbering.
    const first = repeat(`${SERIES_UID}.1`, 7, '101500');
    const later = repeat(`${SERIES_UID}.2`, 6, '102000');
    const { study, decisions } = read([...first, ...later]);
    assertGrid(study);
    assert.equal(study.context.seriesInstanceUID, `${SERIES_UID}.2`);
    const dropped = decisions.find((d) => d.seriesInstanceUID === `${SERIES_UID}.1`)!;
    assert.equal(dropped.chosen, false);
    assert.match(dropped.reason, /an earlier acquisition of SeriesDescription "cine SAX": series .*\.2 is taken, the latest complete one \(by acquisition time\)/);
    assert.match(decisions.find((d) => d.chosen)!.reason, /the latest complete acquisition of its SeriesDescription/);
  });

  it('a later repeat that is incomplete loses to the earlier complete stack', () => {
    const first = repeat(`${SERIES_UID}.1`, 6, '101500');
    const later = repeat(`${SERIES_UID}.2`, 7, '102000', 3);
    const { study, decisions } = read([...later, ...first]);
    assertGrid(study);
    assert.equal(study.context.seriesInstanceUID, `${SERIES_UID}.1`);
    assert.match(decisions.find((d) => d.seriesInstanceUID === `${SERIES_UID}.2`)!.reason, /a later but incomplete repeat \(3 of 4 slices\)/);
  });

  it('without series times, the higher SeriesNumber is the later one', () => {
    const a = cineInstances({ seriesInstanceUID: `${SERIES_UID}.1`, patch: (d) => Object.assign(d, { SeriesNumber: 9 }) });
    const b = cineInstances({ seriesInstanceUID: `${SERIES_UID}.2`, patch: (d) => Object.assign(d, { SeriesNumber: 8 }) });
    const { study, decisions } = read([...b, ...a]);
    assert.equal(study.context.seriesInstanceUID, `${SERIES_UID}.1`);
    assert.match(decisions.find((d) => !d.chosen)!.reason, /by SeriesNumber/);
  });

  it('a localizer and long-axis cines in the same series as the short-axis stack: the stack is kept, the rest dropped with a reason', () => {
    const sameSeries = (tag: string) => (d: Record<string, unknown>, s: number, p: number) => Object.assign(d, { SOPInstanceUID: `${SERIES_UID}.${tag}.${s + 1}.${p + 1}`, InstanceNumber: 900 + p });
    const localizer = cineInstances({ slices: 1, phases: 1, rows: 16, columns: 16, rowDirection: [0, 1, 0], columnDirection: [0, 0, -1], patch: sameSeries('8') });
    const fourChamber = cineInstances({ slices: 1, rowDirection: [0.8, 0.6, 0], columnDirection: [0, 0, -1], patch: sameSeries('9') });
    const twoChamber = cineInstances({ slices: 1, rowDirection: [0, 0.6, 0.8], columnDirection: [1, 0, 0], patch: sameSeries('10') });
    const { study, decisions } = read([...localizer, ...fourChamber, ...cineInstances({ shuffleSeed: 5 }), ...twoChamber]);
    assertGrid(study);
    assert.equal(decisions.length, 1);
    assert.equal(decisions[0]!.chosen, true);
    assert.match(decisions[0]!.reason, /kept the short-axis \(oblique\) stack of this series; dropped 7 image\(s\) of other views: .*one plane \(localizer or long-axis view\)/);
  });

  it('a series of long-axis views only is refused, naming the study', () => {
    const view = (tag: string, row: [number, number, number], column: [number, number, number]) =>
      cineInstances({ slices: 1, rowDirection: row, columnDirection: column, patch: (d, s, p) => Object.assign(d, { SOPInstanceUID: `${SERIES_UID}.${tag}.${s + 1}.${p + 1}` }) });
    rejects([...view('1', [0.8, 0.6, 0], [0, 0, -1]), ...view('2', [0, 0.6, 0.8], [1, 0, 0])], /ImageOrientationPatient differs/);
  });
});

describe('real scanners: pixels and identifiers', () => {
  it('16-bit signed pixels (PixelRepresentation 1) keep their sign over the whole range; unsigned stay unsigned', () => {
    const extremes = [-32768, -1, 0, 1, 32767];
    const signed = read(cineInstances({
      patch: (d) => {
        const data = new Int16Array(24 * COLUMNS);
        data.set(extremes);
        Object.assign(d, { PixelData: data.buffer, RescaleSlope: 1, RescaleIntercept: 0, SmallestImagePixelValue: undefined });
      },
    })).study;
    assert.deepEqual([...signed.grid.images[0]![0]!.pixels.subarray(0, 5)], extremes);
    const unsigned = read(cineInstances({
      patch: (d) => {
        const data = new Uint16Array(24 * COLUMNS);
        data.set([65535, 32768, 0, 1, 4095]);
        Object.assign(d, { PixelData: data.buffer, PixelRepresentation: 0, RescaleSlope: 1, RescaleIntercept: 0 });
      },
    })).study;
    assert.deepEqual([...unsigned.grid.images[2]![1]!.pixels.subarray(0, 5)], [65535, 32768, 0, 1, 4095]);
    assert.equal(storedValue(0, 0, 0, 0) < 0, true, 'the default fixture is signed too');
  });

  it('odd UIDs everywhere (leading-zero components, 64 characters) are kept verbatim', () => {
    const study64 = '2.16.124.113543.6006.99.0898.0001.20240101.0102030405.0607080901';
    const series = '2.16.124.113543.6006.99.0898.0001.20240101.0102030405.0607';
    const frameOfReference = '1.3.12.2.1107.5.2.0032.00042.20240101102030405000000000000000001';
    assert.equal(study64.length, 64);
    assert.equal(frameOfReference.length, 64);
    const sop = (s: number, p: number): string => `${series}.${s + 1}${p + 1}`.padEnd(64, '7');
    const { study } = read(cineInstances({ patch: (d, s, p) => Object.assign(d, { StudyInstanceUID: study64, SeriesInstanceUID: series, FrameOfReferenceUID: frameOfReference, SOPInstanceUID: sop(s, p) }) }));
    assert.equal(study.context.studyInstanceUID, study64);
    assert.equal(study.context.seriesInstanceUID, series);
    assert.equal(study.context.frameOfReferenceUID, frameOfReference);
    assert.equal(study.grid.images[3]![2]!.sopInstanceUID, sop(3, 2));
    assert.equal(sop(3, 2).length, 64);
  });
});
