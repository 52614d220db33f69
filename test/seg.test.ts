import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSegmentation, segmentationUids, type SegmentationInput } from '../src/dicom/seg/sop.js';
import { unpackBits } from '../src/dicom/seg/bitpack.js';
import { rgbToDicomLab } from '../src/dicom/seg/content.js';
import { readPart10 } from '../src/dicom/modules/part10.js';
import { algorithmDeviceUid } from '../src/dicom/modules/equipment.js';
import { BadInputError } from '../src/core/errors.js';
import dcmjs from 'dcmjs';
import { buildFixture, SEGMENTS, type Fixture } from './seg-sr-fixtures.js';
import { dciodvfy, pixelmedInstanceValidator } from './support/validators.js';

const algorithm = { name: 'pulse-lite', version: '1.0.0', calibration: null };
const AT = new Date(Date.UTC(2024, 0, 2, 12, 0, 0));

function input(fixture: Fixture, overrides: Partial<SegmentationInput> = {}): SegmentationInput {
  return {
    context: fixture.context,
    labelMaps: fixture.labelMaps,
    phases: [0, fixture.grid.phases - 1],
    segments: SEGMENTS,
    algorithm,
    ...segmentationUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm),
    contentDateTime: AT,
    ...overrides,
  };
}

/** Reads a SEG back with dcmjs and checks every frame against the label map of the image it references. */
function assertFramesLandOnTheirSources(bytes: Uint8Array, fixture: Fixture, phases: readonly number[]): number {
  const ds = readPart10(bytes);
  const rows: number = ds.Rows;
  const columns: number = ds.Columns;
  const frameCount = Number(ds.NumberOfFrames);
  const frames = unpackBits(new Uint8Array(ds.PixelData[0]), frameCount, rows * columns);
  const byUid = new Map(fixture.labelMaps.flatMap((row, slice) => row.map((m, phase) => [m.image.sopInstanceUID as string, { map: m, slice, phase }])));
  const perFrame = ds.PerFrameFunctionalGroupsSequence;
  assert.equal(perFrame.length, frameCount);
  const shared = ds.SharedFunctionalGroupsSequence[0] ?? ds.SharedFunctionalGroupsSequence;
  const iop = (shared.PlaneOrientationSequence[0] ?? shared.PlaneOrientationSequence).ImageOrientationPatient.map(Number);
  const segmentValue = new Map(ds.SegmentSequence.map((s: any) => [s.SegmentNumber, SEGMENTS.find((d) => d.name === s.SegmentLabel)!.labelValue]));
  const seen = new Set<string>();
  for (let f = 0; f < frameCount; f++) {
    const item = perFrame[f];
    const first = (v: any) => (Array.isArray(v) ? v[0] : v);
    const source = first(first(item.DerivationImageSequence).SourceImageSequence);
    const hit = byUid.get(source.ReferencedSOPInstanceUID);
    assert.ok(hit, `frame ${f + 1} references an unknown image`);
    const segmentNumber = first(item.SegmentIdentificationSequence).ReferencedSegmentNumber;
    const labelValue = segmentValue.get(segmentNumber)!;
    const plane = hit.map.image.plane;
    // Geometry matches the source image exactly.
    assert.deepEqual(first(item.PlanePositionSequence).ImagePositionPatient.map(Number), [...plane.imagePositionPatient]);
    assert.deepEqual(iop, [...plane.imageOrientationPatient]);
    // Dimension index: segment, temporal index (phase ordinal), position (slice).
    const dims = first(item.FrameContentSequence).DimensionIndexValues;
    assert.deepEqual(dims, [segmentNumber, phases.indexOf(hit.phase) + 1, hit.slice + 1]);
    // Pixel for pixel.
    const expected = Uint8Array.from(hit.map.labels, (v) => (v === labelValue ? 1 : 0));
    assert.deepEqual(frames[f], expected, `frame ${f + 1} (segment ${segmentNumber}, slice ${hit.slice}, phase ${hit.phase}) differs from its label map`);
    assert.ok(expected.some((v) => v === 1), 'empty frames are left out');
    seen.add(`${segmentNumber}/${hit.slice}/${hit.phase}`);
  }
  // Every non-empty (segment, slice, phase) is present.
  let expectedFrames = 0;
  SEGMENTS.forEach((segment, i) =>
    phases.forEach((phase) =>
      fixture.labelMaps.forEach((row, slice) => {
        if (row[phase]!.labels.includes(segment.labelValue)) {
          expectedFrames++;
          assert.ok(seen.has(`${i + 1}/${slice}/${phase}`), `segment ${i + 1} slice ${slice} phase ${phase} is missing`);
        }
      }),
    ),
  );
  assert.equal(frameCount, expectedFrames);
  return frameCount;
}

describe('SEG builder', () => {
  const fixture = buildFixture();

  test('dciodvfy finds no error in the SEG (ED + ES)', () => {
    const seg = buildSegmentation(input(fixture));
    const report = dciodvfy(seg.bytes);
    assert.deepEqual(report.errors, [], report.output);
    // Accepted warning (docs/dicom-outputs.md): dicom3tools' dictionary predates DeviceUID in ContributingEquipmentSequence.
    const unexpected = report.warnings.filter((w) => !/Device UID|Standard Extended SOP Class/.test(w));
    assert.deepEqual(unexpected, [], report.output);
  });

  test('PixelMed DicomInstanceValidator finds no error in the SEG; Laterality is absent, ImageLaterality U', () => {
    const bytes = buildSegmentation(input(fixture)).bytes;
    const report = pixelmedInstanceValidator(bytes);
    assert.match(report.output, /Found Segmentation IOD/);
    // PixelMed asks for series Laterality unless an Image/Frame Laterality exists; dciodvfy rejects series
    // Laterality for an unpaired body part. ImageLaterality U satisfies both (docs/dicom-outputs.md).
    assert.deepEqual(report.errors, [], report.output);
    const ds = readPart10(bytes);
    assert.equal(ds.Laterality, undefined);
    assert.equal(ds.ImageLaterality, 'U');
    // Accepted: this PixelMed build predates the ISO_IR 192 (UTF-8) defined term.
    assert.deepEqual(report.warnings.filter((w) => !/ISO_IR 192/.test(w)), [], report.output);
  });

  test('every frame of an oblique, non-square cine SEG lands on its source image with the right segment, pixel for pixel', () => {
    const phases = [0, fixture.grid.phases - 1];
    const seg = buildSegmentation(input(fixture));
    const frames = assertFramesLandOnTheirSources(seg.bytes, fixture, phases);
    assert.equal(seg.frames.length, frames);
  });

  test('all phases by option: the temporal index keeps repeated positions apart', () => {
    const phases = Array.from({ length: fixture.grid.phases }, (_, p) => p);
    const seg = buildSegmentation(input(fixture, { phases }));
    assertFramesLandOnTheirSources(seg.bytes, fixture, phases);
    const ds = readPart10(seg.bytes);
    const keys = ds.PerFrameFunctionalGroupsSequence.map((item: any) => (item.FrameContentSequence[0] ?? item.FrameContentSequence).DimensionIndexValues.join('/'));
    assert.equal(new Set(keys).size, keys.length, 'dimension index values are unique per frame');
  });

  test('the SEG describes its segments, provenance and geometry', () => {
    const seg = buildSegmentation(input(fixture));
    const ds = readPart10(seg.bytes);
    assert.equal(ds.SOPClassUID, '1.2.840.10008.5.1.4.1.1.66.4');
    assert.equal(ds.Modality, 'SEG');
    assert.equal(ds.SegmentationType, 'BINARY');
    assert.equal(ds.BitsAllocated, 1);
    assert.equal(ds.StudyInstanceUID, fixture.context.studyInstanceUID);
    assert.equal(ds.FrameOfReferenceUID, fixture.context.frameOfReferenceUID);
    assert.equal(ds.PatientID, 'FIXTURE-1');
    assert.match(ds.SeriesDescription, /automated/i);
    assert.equal(ds.Manufacturer, 'PULSE for Orthanc');
    assert.equal(ds.SegmentSequence.length, SEGMENTS.length);
    ds.SegmentSequence.forEach((s: any, i: number) => {
      assert.equal(s.SegmentNumber, i + 1);
      assert.equal(s.SegmentLabel, SEGMENTS[i]!.name);
      assert.equal(s.SegmentAlgorithmType, 'AUTOMATIC');
      assert.equal(s.SegmentAlgorithmName, 'pulse-lite');
      assert.equal(s.SegmentationAlgorithmIdentificationSequence[0].AlgorithmVersion, '1.0.0');
      assert.equal(s.SegmentedPropertyTypeCodeSequence[0].CodeValue, SEGMENTS[i]!.type.value);
      assert.deepEqual(s.RecommendedDisplayCIELabValue, rgbToDicomLab(SEGMENTS[i]!.color));
    });
    const equipment = ds.ContributingEquipmentSequence[0];
    assert.equal(equipment.ManufacturerModelName, 'pulse-lite');
    assert.equal(equipment.DeviceUID, algorithmDeviceUid(algorithm));
    const measures = ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0];
    assert.deepEqual(measures.PixelSpacing.map(Number), [1.5, 1.25]);
    assert.equal(Number(measures.SliceThickness), 6);
    assert.ok(Math.abs(Number(measures.SpacingBetweenSlices) - 8) < 1e-3);
    const series = ds.ReferencedSeriesSequence[0];
    assert.equal(series.SeriesInstanceUID, fixture.context.seriesInstanceUID);
    assert.equal(series.ReferencedInstanceSequence.length, fixture.grid.slices * 2);
  });

  test('imported reference labels are MANUAL and need no algorithm name', () => {
    const seg = buildSegmentation(input(fixture, { algorithmType: 'MANUAL' }));
    const ds = readPart10(seg.bytes);
    for (const s of ds.SegmentSequence) {
      assert.equal(s.SegmentAlgorithmType, 'MANUAL');
      assert.equal(s.SegmentAlgorithmName, undefined);
    }
    assert.deepEqual(dciodvfy(seg.bytes).errors, []);
  });

  test('the same inputs give the same bytes; a new model version gives new UIDs and a new DeviceUID', () => {
    const a = buildSegmentation(input(fixture));
    const b = buildSegmentation(input(fixture));
    assert.deepEqual(a.bytes, b.bytes);
    const newer = { ...algorithm, version: '1.1.0' };
    const uids = segmentationUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, newer);
    assert.notEqual(uids.sopInstanceUID, a.sopInstanceUID);
    assert.notEqual(algorithmDeviceUid(newer), algorithmDeviceUid(algorithm));
    assert.notEqual(algorithmDeviceUid({ ...algorithm, calibration: 'site-a-1' }), algorithmDeviceUid(algorithm));
  });

  test('nothing segmented still gives a valid SEG with one empty frame', () => {
    const empty = buildFixture({ seed: 'empty' });
    for (const row of empty.labelMaps) for (const m of row) m.labels.fill(0);
    const seg = buildSegmentation(input(empty));
    const ds = readPart10(seg.bytes);
    assert.equal(Number(ds.NumberOfFrames), 1);
    assert.deepEqual(dciodvfy(seg.bytes).errors, []);
  });

  test('recommended display colours match dcmjs CIELab conversion', () => {
    for (const rgb of [[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 64, 200], [0, 0, 0], [255, 255, 255]] as const) {
      const ours = rgbToDicomLab(rgb);
      const theirs = dcmjs.data.Colors.rgb82DICOMLAB(rgb) as number[];
      ours.forEach((v, i) => assert.ok(Math.abs(v - theirs[i]!) <= 40, `${rgb} -> ${ours} vs dcmjs ${theirs}`));
    }
  });

  describe('rejects invalid input, naming the argument', () => {
    const cases: Array<[string, Partial<SegmentationInput>, RegExp]> = [
      ['no segments', { segments: [] }, /segments must list at least one segment/],
      ['repeated label value', { segments: [SEGMENTS[0]!, { ...SEGMENTS[1]!, labelValue: SEGMENTS[0]!.labelValue }] }, /segments\[1\]\.labelValue 1 repeats/],
      ['no phases', { phases: [] }, /phases must list at least one phase/],
      ['phase out of range', { phases: [0, 99] }, /phases contains 99/],
      ['repeated phase', { phases: [1, 1] }, /phases must not repeat/],
      ['bad SOP Instance UID', { sopInstanceUID: '1.02.3' as never }, /sopInstanceUID is not a valid UID/],
      ['source series reused', { seriesInstanceUID: fixture.context.seriesInstanceUID as never }, /must be a new series/],
      ['bad content label', { contentLabel: 'lower case' }, /contentLabel/],
      ['missing algorithm version', { algorithm: { ...algorithm, version: '' } }, /algorithm\.version must not be empty/],
      ['no label maps', { labelMaps: [] }, /labelMaps/],
      ['label map of the wrong size', { labelMaps: [[{ image: fixture.labelMaps[0]![0]!.image, labels: new Uint8Array(3) }, ...fixture.labelMaps[0]!.slice(1)]] }, /labelMaps\[0\]\[0\]\.labels has 3 values/],
      ['series number', { seriesNumber: 0 }, /seriesNumber must be a positive integer/],
    ];
    for (const [name, overrides, message] of cases) {
      test(name, () => assert.throws(() => buildSegmentation(input(fixture, overrides)), message));
    }
    test('missing FrameOfReferenceUID is bad input, naming the study', () => {
      const context = { ...fixture.context, frameOfReferenceUID: undefined };
      assert.throws(() => buildSegmentation(input(fixture, { context })), (e: unknown) => e instanceof BadInputError && /FrameOfReferenceUID/.test(e.message) && e.message.includes(fixture.context.studyInstanceUID));
    });
    test('images of different grids are bad input', () => {
      const other = buildFixture({ rows: 14, seed: 'other' });
      const mixed = [fixture.labelMaps[0]!, other.labelMaps[1]!, fixture.labelMaps[2]!];
      assert.throws(() => buildSegmentation(input(fixture, { labelMaps: mixed })), /differ in Rows\/Columns/);
    });
  });
});
