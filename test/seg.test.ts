/**
 * The SEG builder: frames, functional groups, segment descriptions, provenance, bit-packed pixels and
 * input checks, read back with dcmjs, plus dciodvfy on the result. No Java here: PixelMed's judgement
 * of the same objects is in seg-sr-pixelmed.test.ts, so that mutation testing can afford this file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSegmentation, segmentationUids, type SegmentationInput } from '../src/dicom/seg/sop.js';
import { unpackBits } from '../src/dicom/seg/bitpack.js';
import { rgbToDicomLab } from '../src/dicom/seg/content.js';
import { readPart10 } from '../src/dicom/modules/part10.js';
import { algorithmDeviceUid } from '../src/dicom/modules/equipment.js';
import { BadInputError } from '../src/core/errors.js';
import { segmentationReference } from '../src/dicom/seg/sop.js';
import { deterministicUid } from '../src/dicom/uid.js';
import type { LabelMap } from '../src/study/types.js';
import dcmjs from 'dcmjs';
import { buildFixture, FIXTURE_ALGORITHM as algorithm, fixtureSegmentationInput as input, SEGMENTS, type Fixture } from './seg-sr-fixtures.js';
import { dciodvfy } from './support/validators.js';

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
    // Dark colours too: below sRGB 10/255 the transfer curve is linear, and below L* 8 so is CIELab's f(t).
    for (const rgb of [[255, 0, 0], [0, 255, 0], [0, 0, 255], [128, 64, 200], [0, 0, 0], [255, 255, 255], [5, 5, 5], [9, 2, 7], [20, 12, 3]] as const) {
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
      ['no label maps', { labelMaps: [] }, /labelMaps must hold at least one slice/],
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
      for (const grid of [{ rows: 14 }, { columns: 18 }]) {
        const other = buildFixture({ ...grid, seed: 'other' });
        const mixed = [fixture.labelMaps[0]!, other.labelMaps[1]!, fixture.labelMaps[2]!];
        assert.throws(() => buildSegmentation(input(fixture, { labelMaps: mixed })), /differ in Rows\/Columns/, JSON.stringify(grid));
      }
    });
  });

  describe('values, frames and references pinned one by one', () => {
    const first = (v: any) => (Array.isArray(v) ? v[0] : v);

    test('fixed attributes of the Segmentation IOD and its defaults', () => {
      const seg = buildSegmentation(input(fixture));
      const ds = readPart10(seg.bytes);
      assert.equal(ds.BodyPartExamined, 'HEART');
      assert.equal(ds.ImageLaterality, 'U');
      assert.equal(ds.Laterality, undefined);
      assert.ok(!ds.PositionReferenceIndicator, 'PositionReferenceIndicator is empty (Type 2)');
      assert.equal(ds.SegmentsOverlap, 'NO');
      assert.equal(ds.ContentLabel, 'PULSE_SEG');
      assert.equal(ds.ContentDescription, 'Automated cardiac segmentation; review before clinical use');
      assert.equal(first(ds.ContentCreatorName).Alphabetic ?? ds.ContentCreatorName, 'PULSE^Automated');
      assert.equal(ds.SeriesNumber, 9001);
      assert.equal(ds.InstanceNumber, 1);
      assert.equal(ds.SeriesDescription, 'PULSE automated segmentation (not reviewed)');
      assert.equal(ds.ContentDate, '20240102', 'the content date given, not today');
      assert.deepEqual(ds.ImageType, ['DERIVED', 'PRIMARY']);
      const organization = ds.DimensionOrganizationSequence[0].DimensionOrganizationUID;
      assert.notEqual(organization, seg.sopInstanceUID);
      assert.deepEqual(
        ds.DimensionIndexSequence.map((d: any) => [d.DimensionOrganizationUID, d.DimensionDescriptionLabel]),
        [[organization, 'Segment Number'], [organization, 'Temporal Position Index'], [organization, 'Image Position Patient']],
      );
      // 1-bit pixel data is written as OB: the explicit VR right after the (7FE0,0010) tag.
      const bytes = seg.bytes;
      let at = -1;
      for (let i = bytes.length - 8; i >= 0 && at < 0; i--) if (bytes[i] === 0xe0 && bytes[i + 1] === 0x7f && bytes[i + 2] === 0x10 && bytes[i + 3] === 0x00) at = i;
      assert.equal(String.fromCharCode(bytes[at + 4]!, bytes[at + 5]!), 'OB');
    });

    test('the content label, description and creator given are written', () => {
      const ds = readPart10(buildSegmentation(input(fixture, { contentLabel: 'SITE_1', contentDescription: 'x'.repeat(70), contentCreatorName: 'Doe^Jane' })).bytes);
      assert.equal(ds.ContentLabel, 'SITE_1');
      assert.equal(ds.ContentDescription, 'x'.repeat(64), 'LO: at most 64 characters');
      assert.equal(first(ds.ContentCreatorName).Alphabetic ?? ds.ContentCreatorName, 'Doe^Jane');
    });

    test('long segment and algorithm names are cut to 64 characters (LO); the calibration is an algorithm parameter', () => {
      const long = 'n'.repeat(70);
      const calibrated = { name: long, version: 'v'.repeat(70), calibration: 'site-a-1' };
      const ds = readPart10(buildSegmentation(input(fixture, { segments: [{ ...SEGMENTS[0]!, name: long }, ...SEGMENTS.slice(1)], algorithm: calibrated })).bytes);
      const s = ds.SegmentSequence[0];
      assert.equal(s.SegmentLabel, long.slice(0, 64));
      assert.equal(s.SegmentDescription, `${long} (label 1)`.slice(0, 64));
      assert.equal(ds.SegmentSequence[1].SegmentDescription, `${SEGMENTS[1]!.name} (label 2)`);
      assert.equal(s.SegmentAlgorithmName, long.slice(0, 64));
      const identification = s.SegmentationAlgorithmIdentificationSequence[0];
      assert.equal(identification.AlgorithmName, long.slice(0, 64));
      assert.equal(identification.AlgorithmVersion, 'v'.repeat(64));
      assert.equal(identification.AlgorithmParameters, 'calibration=site-a-1');
      assert.equal(identification.AlgorithmFamilyCodeSequence[0].CodeMeaning, 'Artificial Intelligence');
      const bare = readPart10(buildSegmentation(input(fixture)).bytes).SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0];
      assert.equal(bare.AlgorithmParameters, undefined, 'no calibration, no parameter');
    });

    test('MANUAL segments still identify the tool, as manual processing', () => {
      const ds = readPart10(buildSegmentation(input(fixture, { algorithmType: 'MANUAL', algorithm: { ...algorithm, name: 'm'.repeat(70), version: 'w'.repeat(70) } })).bytes);
      const identification = ds.SegmentSequence[0].SegmentationAlgorithmIdentificationSequence[0];
      assert.equal(identification.AlgorithmFamilyCodeSequence[0].CodeMeaning, 'Manual Processing');
      assert.equal(identification.AlgorithmName, 'm'.repeat(64));
      assert.equal(identification.AlgorithmVersion, 'w'.repeat(64));
    });

    test('frames of a multi-frame source reference their frame number; single-frame sources do not', () => {
      const multi = buildFixture({ seed: 'multi' });
      const labelMaps = multi.labelMaps.map((row, s) => row.map((m, p) => ({ ...m, image: { ...m.image, frameNumber: s * 4 + p + 1 } })));
      const ds = readPart10(buildSegmentation(input(multi, { labelMaps, ...segmentationUids(multi.context.studyInstanceUID, multi.context.seriesInstanceUID, algorithm) })).bytes);
      for (const item of ds.PerFrameFunctionalGroupsSequence) {
        const source = first(first(item.DerivationImageSequence).SourceImageSequence);
        const image = labelMaps.flat().find((m) => m.image.sopInstanceUID === source.ReferencedSOPInstanceUID)!.image;
        assert.equal(source.ReferencedFrameNumber, image.frameNumber);
      }
      const single = readPart10(buildSegmentation(input(fixture)).bytes);
      const source = first(first(single.PerFrameFunctionalGroupsSequence[0].DerivationImageSequence).SourceImageSequence);
      assert.equal(source.ReferencedFrameNumber, undefined);
    });

    test('the frames list numbers frames 1..n in data set order, and the report reference groups them by segment and phase', () => {
      const seg = buildSegmentation(input(fixture));
      const ds = readPart10(seg.bytes);
      assert.deepEqual(seg.frames.map((f) => f.frameNumber), seg.frames.map((_, i) => i + 1));
      seg.frames.forEach((frame, i) => {
        const item = ds.PerFrameFunctionalGroupsSequence[i];
        assert.equal(first(item.SegmentIdentificationSequence).ReferencedSegmentNumber, frame.segmentNumber);
        assert.equal(first(first(item.DerivationImageSequence).SourceImageSequence).ReferencedSOPInstanceUID, fixture.labelMaps[frame.slice]![frame.phase]!.image.sopInstanceUID);
        assert.equal(frame.image, fixture.labelMaps[frame.slice]![frame.phase]!.image);
        assert.equal(SEGMENTS[frame.segmentNumber - 1]!.key, frame.segmentKey);
      });
      assert.deepEqual(seg.segmentNumbers, { rv: 1, myo: 2, lv: 3 });
      const reference = segmentationReference(seg);
      assert.equal(reference.sopInstanceUID, seg.sopInstanceUID);
      assert.equal(reference.seriesInstanceUID, seg.seriesInstanceUID);
      assert.deepEqual(reference.segmentNumbers, seg.segmentNumbers);
      const expected: Record<string, Record<number, number[]>> = {};
      for (const f of seg.frames) ((expected[f.segmentKey] ??= {})[f.phase] ??= []).push(f.frameNumber);
      assert.deepEqual(reference.frameNumbers, expected);
      // Spelled out for the LV: slices 0-2 at phase 0, slices 0-1 at phase 3 (the last slice is empty there).
      const lv = seg.frames.filter((f) => f.segmentKey === 'lv');
      assert.deepEqual(reference.frameNumbers.lv, { 0: lv.filter((f) => f.phase === 0).map((f) => f.frameNumber), 3: lv.filter((f) => f.phase === 3).map((f) => f.frameNumber) });
      assert.deepEqual(lv.map((f) => [f.phase, f.slice]), [[0, 0], [0, 1], [0, 2], [3, 0], [3, 1]]);
    });

    test('an empty SEG keeps one empty frame of the first segment, on the first image', () => {
      const empty = buildFixture({ seed: 'empty-frames' });
      for (const row of empty.labelMaps) for (const m of row) m.labels.fill(0);
      const seg = buildSegmentation(input(empty, segmentationUids(empty.context.studyInstanceUID, empty.context.seriesInstanceUID, algorithm)));
      assert.deepEqual(seg.frames, [{ frameNumber: 1, segmentNumber: 1, segmentKey: 'rv', slice: 0, phase: 0, image: empty.labelMaps[0]![0]!.image }]);
    });

    test('phases are written in cycle order whatever order they are given in', () => {
      assert.deepEqual(buildSegmentation(input(fixture, { phases: [3, 0] })).bytes, buildSegmentation(input(fixture, { phases: [0, 3] })).bytes);
      const three = buildSegmentation(input(fixture, { phases: [2, 0, 1] }));
      assert.deepEqual([...new Set(three.frames.map((f) => f.phase))], [0, 1, 2]);
    });

    test('pixel measures: slice spacing only for two or more slices; a single slice takes its SliceThickness', () => {
      const two = buildFixture({ slices: 2, seed: 'two' });
      const measures = (f: Fixture) => readPart10(buildSegmentation(input(f, segmentationUids(f.context.studyInstanceUID, f.context.seriesInstanceUID, algorithm))).bytes).SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0];
      assert.ok(Math.abs(Number(measures(two).SpacingBetweenSlices) - 8) < 1e-3);
      const one = buildFixture({ slices: 1, seed: 'one' });
      assert.equal(measures(one).SpacingBetweenSlices, undefined);
      assert.equal(Number(measures(one).SliceThickness), 6);
      const noThickness = one.labelMaps.map((row) => row.map((m) => ({ ...m, image: { ...m.image, plane: { ...m.image.plane, sliceThickness: undefined } } })));
      assert.throws(() => buildSegmentation(input(one, { labelMaps: noThickness })), (e: unknown) => e instanceof BadInputError && /SliceThickness is missing/.test(e.message));
      // Without SliceThickness but with two slices, the thickness is the spacing.
      const twoThin = two.labelMaps.map((row) => row.map((m) => ({ ...m, image: { ...m.image, plane: { ...m.image.plane, sliceThickness: undefined } } })));
      const thin = readPart10(buildSegmentation(input(two, { labelMaps: twoThin })).bytes).SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0];
      assert.ok(Math.abs(Number(thin.SliceThickness) - 8) < 1e-3);
    });

    test('a person\'s reference may skip images; an annotated image without any structure keeps one empty frame', () => {
      // Phase 0: slice 1 not annotated. Phase 3: all three slices annotated, slice 2 empty (the fixture leaves it so).
      const labelMaps: Array<Array<LabelMap | undefined>> = fixture.labelMaps.map((row, s) => row.map((m, p) => (s === 1 && p === 0 ? undefined : m)));
      const seg = buildSegmentation(input(fixture, { labelMaps, algorithmType: 'SEMIAUTOMATIC' }));
      assert.ok(!seg.frames.some((f) => f.slice === 1 && f.phase === 0), 'nothing for the image nobody annotated');
      const empties = seg.frames.filter((f) => f.slice === 2 && f.phase === 3);
      assert.deepEqual(empties.map((f) => f.segmentKey), ['rv'], 'one empty frame, of the first segment');
      const ds = readPart10(seg.bytes);
      const frames = unpackBits(new Uint8Array(ds.PixelData[0]), seg.frames.length, fixture.labelMaps[0]![0]!.labels.length);
      assert.ok(frames[empties[0]!.frameNumber - 1]!.every((v) => v === 0));
      // Every other frame holds its segment; images holding some structures get no empty frame.
      assert.equal(seg.frames.filter((f) => frames[f.frameNumber - 1]!.every((v) => v === 0)).length, 1);
      // An image holding some structures but not the first segment's gets no empty frame of it.
      const noRv = labelMaps.map((row, s) => row.map((m, p) => (m && s === 0 && p === 3 ? { ...m, labels: m.labels.map((v) => (v === SEGMENTS[0]!.labelValue ? 0 : v)) } : m)));
      const withoutRv = buildSegmentation(input(fixture, { labelMaps: noRv, algorithmType: 'SEMIAUTOMATIC' }));
      assert.deepEqual(withoutRv.frames.filter((f) => f.slice === 0 && f.phase === 3).map((f) => f.segmentKey), ['myo', 'lv']);
      // Slice spacing from the phase with the most slices (phase 3: 8 mm), not from phase 0's gap of 16 mm.
      assert.ok(Math.abs(Number(ds.SharedFunctionalGroupsSequence[0].PixelMeasuresSequence[0].SpacingBetweenSlices) - 8) < 1e-3);
      assert.equal(ds.ReferencedSeriesSequence[0].ReferencedInstanceSequence.length, fixture.grid.slices * 2 - 1);
      // The model's own output must cover every image.
      assert.throws(() => buildSegmentation(input(fixture, { labelMaps })), /labelMaps\[1\]\[0\] is missing/);
      assert.throws(() => buildSegmentation(input(fixture, { labelMaps: labelMaps.map((row) => row.map(() => undefined)), algorithmType: 'MANUAL' })), /labelMaps holds no label map for the given phases/);
    });
  });

  describe('rejects invalid segments, phases, grids and references, naming them', () => {
    const segment = SEGMENTS[0]!;
    const cases: Array<[string, Partial<SegmentationInput>, RegExp]> = [
      ['blank segment name', { segments: [{ ...segment, name: ' ' }] }, /segments\[0\]\.name must not be empty/],
      ['no segment name', { segments: [{ ...segment, name: undefined as never }] }, /segments\[0\]\.name must not be empty/],
      ['no category', { segments: [{ ...segment, category: undefined as never }] }, /segments\[0\]\.category must be a complete code/],
      ['label value 0', { segments: [{ ...segment, labelValue: 0 }] }, /segments\[0\]\.labelValue must be an integer 1\.\.255/],
      ['label value 256', { segments: [{ ...segment, labelValue: 256 }] }, /labelValue must be an integer 1\.\.255/],
      ['label value 1.5', { segments: [{ ...segment, labelValue: 1.5 }] }, /labelValue must be an integer 1\.\.255/],
      ['repeated key', { segments: [segment, { ...SEGMENTS[1]!, key: segment.key }] }, /segments\[1\]\.key 'rv' repeats/],
      ['category without a value', { segments: [{ ...segment, category: { ...segment.category, value: '' } }] }, /segments\[0\]\.category must be a complete code/],
      ['type without a scheme', { segments: [{ ...segment, type: { ...segment.type, scheme: '' } }] }, /segments\[0\]\.type must be a complete code/],
      ['type without a meaning', { segments: [{ ...segment, type: { ...segment.type, meaning: '' } }] }, /segments\[0\]\.type must be a complete code/],
      ['negative phase', { phases: [-1] }, /phases contains -1, outside 0\.\.3/],
      ['phase 1.5', { phases: [1.5] }, /phases contains 1.5/],
      ['phase one past the last', { phases: [4] }, /phases contains 4, outside 0\.\.3/],
      ['unknown algorithm type', { algorithmType: 'ROBOT' as never }, /algorithmType 'ROBOT' is not AUTOMATIC, SEMIAUTOMATIC or MANUAL/],
      ['content label with a lower-case letter at the end', { contentLabel: 'PULSEx' }, /contentLabel 'PULSEx'/],
      ['content label with a lower-case letter at the start', { contentLabel: 'xPULSE' }, /contentLabel 'xPULSE'/],
      ['content label of 17 characters', { contentLabel: 'A'.repeat(17) }, /contentLabel/],
      ['no context', { context: undefined as never }, /context is required/],
      ['a slice without label maps', { labelMaps: [fixture.labelMaps[0]!, undefined as never, fixture.labelMaps[2]!] }, /phases contains 0, outside 0\.\.-1/],
    ];
    for (const [name, overrides, message] of cases) {
      test(name, () => assert.throws(() => buildSegmentation(input(fixture, overrides)), message));
    }
    test('the last segment label value, 255, and the last phase are accepted', () => {
      assert.ok(buildSegmentation(input(fixture, { segments: [{ ...segment, labelValue: 255 }], phases: [3] })).frames.length > 0);
    });

    const regrid = (change: (plane: LabelMap['image']['plane']) => LabelMap['image']['plane']) =>
      fixture.labelMaps.map((row, s) => row.map((m) => (s === 1 ? { ...m, image: { ...m.image, plane: change(m.image.plane) } } : m)));
    test('images that differ in PixelSpacing or orientation are bad input; a difference under 1e-4 is not', () => {
      const spacing = regrid((p) => ({ ...p, pixelSpacing: [1.5, 1.3] }));
      assert.throws(() => buildSegmentation(input(fixture, { labelMaps: spacing })), (e: unknown) => e instanceof BadInputError && /differ in PixelSpacing \(slice 1, phase 0\)/.test(e.message));
      const [a, b, c, d, e, f] = fixture.labelMaps[0]![0]!.image.plane.imageOrientationPatient;
      const turned = regrid((p) => ({ ...p, imageOrientationPatient: [b, a, c, d, e, f] }));
      assert.throws(() => buildSegmentation(input(fixture, { labelMaps: turned })), (e: unknown) => e instanceof BadInputError && /differ in ImageOrientationPatient \(slice 1, phase 0\)/.test(e.message));
      const nearly = regrid((p) => ({ ...p, pixelSpacing: [1.5 + 5e-5, 1.25], imageOrientationPatient: [a + 5e-5, b, c, d, e, f] }));
      assert.ok(buildSegmentation(input(fixture, { labelMaps: nearly })).frames.length > 0);
    });

    test('source images whose UIDs cannot be referenced are bad input, naming the attribute', () => {
      for (const [field, name] of [['sopInstanceUID', 'source SOPInstanceUID'], ['sopClassUID', 'source SOPClassUID'], ['seriesInstanceUID', 'source SeriesInstanceUID']] as const) {
        // Source UIDs are referenced verbatim (a leading zero passes); a backslash could never be matched.
        const labelMaps = fixture.labelMaps.map((row, s) => row.map((m) => (s === 2 ? { ...m, image: { ...m.image, [field]: '1.2\\3' } } : m)));
        assert.throws(() => buildSegmentation(input(fixture, { labelMaps })), (e: unknown) => e instanceof BadInputError && e.message.startsWith(`${name} `), field);
      }
      const context = { ...fixture.context, studyInstanceUID: '' as never };
      assert.throws(() => buildSegmentation(input(fixture, { context })), /StudyInstanceUID is missing/);
    });
  });
});
