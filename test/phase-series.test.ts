/**
 * Viewer phase series (docs/ohif-cine-seg.md): per labelled phase, a derived single-phase copy of the
 * cine's images and a SEG of that phase referencing only the copy. Built on a synthetic cine study,
 * read back with dcmjs and judged by dciodvfy; the router must treat the copies as our outputs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildViewerPhaseSeries, viewerPhaseUids } from '../src/dicom/phase-series.js';
import { readPart10, writePart10 } from '../src/dicom/modules/part10.js';
import { MANUFACTURER } from '../src/dicom/modules/equipment.js';
import { readStudy } from '../src/study/read-study.js';
import { generateStudy } from '../src/synth/index.js';
import { isOwnOutput } from '../src/service/router.js';
import { ConfigSchema } from '../src/config/schema.js';
import type { LabelMap } from '../src/study/types.js';
import { FIXTURE_ALGORITHM as algorithm, SEGMENTS } from './seg-sr-fixtures.js';
import { dciodvfy } from './support/validators.js';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseInstance } from '../src/dicom/read/read-instance.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { bundledManifest } from './support/paths.js';

const synth = generateStudy({ seed: 5, slices: 3, phases: 4 });
const instances = synth.files.map((f, i) => ({ source: `file ${i}`, bytes: f.bytes }));
const study = readStudy(instances);
const sources = new Map(synth.files.map((f) => [String(readPart10(f.bytes).SOPInstanceUID), f.bytes]));
// A label map per image: LV in the centre, myocardium around it, RV beside it; phase-dependent so phases differ.
const labelMaps: LabelMap[][] = study.grid.images.map((row) =>
  row.map((image, phase) => {
    const { rows, columns } = image.plane;
    const labels = new Uint8Array(rows * columns);
    for (let r = 0; r < rows; r++) for (let c = 0; c < columns; c++) {
      const d = Math.hypot(r - rows / 2, c - columns / 2);
      labels[r * columns + c] = d < 5 + phase ? 3 : d < 9 + phase ? 2 : Math.hypot(r - rows / 2, c - columns / 2 - 16) < 5 ? 1 : 0;
    }
    return { image, labels };
  }),
);
const phases = [{ name: 'ED' as const, index: 0 }, { name: 'ES' as const, index: 2 }];
const at = new Date('2026-01-02T03:04:05Z');
const built = buildViewerPhaseSeries({ context: study.context, labelMaps, phases, sources, segments: SEGMENTS, algorithm, contentDateTime: at });

test('per labelled phase: one copy per slice and one SEG that references the copy alone', () => {
  assert.ok(built.written, built.written ? '' : built.reason);
  assert.equal(built.objects.length, 2 * (study.grid.slices + 1));
  const datasets = built.objects.map((b) => readPart10(b));
  for (const [k, { name, index }] of phases.entries()) {
    const uids = viewerPhaseUids(study.context.studyInstanceUID, study.context.seriesInstanceUID, algorithm, name);
    const copies = datasets.filter((d) => d.SeriesInstanceUID === uids.copySeriesInstanceUID);
    assert.equal(copies.length, study.grid.slices);
    for (const [slice, row] of study.grid.images.entries()) {
      const original = row[index]!;
      const copy = copies.find((d) => d.SourceImageSequence?.[0]?.ReferencedSOPInstanceUID === original.sopInstanceUID);
      assert.ok(copy, `${name}: slice ${slice} has a copy`);
      const source = readPart10(sources.get(original.sopInstanceUID)!);
      assert.equal(copy.SOPInstanceUID, uids.copyInstanceUID(original.sopInstanceUID));
      assert.deepEqual([...copy.ImageType].slice(0, 2), ['DERIVED', 'SECONDARY']);
      assert.equal(copy.Manufacturer, MANUFACTURER);
      assert.match(copy.SeriesDescription, new RegExp(`^PULSE ${name} phase copy`));
      assert.equal(copy.StudyInstanceUID, study.context.studyInstanceUID);
      assert.equal(copy.FrameOfReferenceUID, source.FrameOfReferenceUID);
      assert.deepEqual(copy.ImagePositionPatient, source.ImagePositionPatient);
      assert.deepEqual(new Uint8Array(copy.PixelData[0]), new Uint8Array(source.PixelData[0]), 'pixel data kept as stored');
    }
    const seg = datasets.find((d) => d.SeriesInstanceUID === uids.segSeriesInstanceUID)!;
    assert.ok(seg, `${name}: its SEG`);
    assert.equal(seg.SeriesNumber, 9021 + k);
    const referenced = seg.ReferencedSeriesSequence;
    assert.equal(referenced.length ?? 1, 1);
    assert.equal((referenced[0] ?? referenced).SeriesInstanceUID, uids.copySeriesInstanceUID);
    const copyUids = new Set(copies.map((d) => d.SOPInstanceUID));
    for (const frame of seg.PerFrameFunctionalGroupsSequence) {
      const source = frame.DerivationImageSequence[0].SourceImageSequence[0];
      assert.ok(copyUids.has(source.ReferencedSOPInstanceUID), 'every frame references a copy of its phase');
    }
  }
  // Deterministic: the same inputs write the same bytes.
  const again = buildViewerPhaseSeries({ context: study.context, labelMaps, phases, sources, segments: SEGMENTS, algorithm, contentDateTime: at });
  assert.ok(again.written);
  assert.deepEqual(again.objects, built.objects);
});

test('dciodvfy finds no error in a copy or in a per-phase SEG', () => {
  assert.ok(built.written);
  const copy = built.objects[0]!;
  const seg = built.objects[study.grid.slices]!;
  const baseline = dciodvfy(synth.files[0]!.bytes);
  for (const [what, bytes] of [['copy', copy], ['SEG', seg]] as const) {
    const report = dciodvfy(bytes);
    // The copy may carry no error the source image does not already have.
    const known = what === 'copy' ? new Set(baseline.errors) : new Set<string>();
    assert.deepEqual(report.errors.filter((e) => !known.has(e)), [], `${what}: ${report.output}`);
    // Accepted warning (docs/dicom-outputs.md): dicom3tools' dictionary predates DeviceUID in ContributingEquipmentSequence.
    assert.deepEqual(report.warnings.filter((w) => !/Device UID|Standard Extended SOP Class/.test(w)), [], `${what}: ${report.output}`);
  }
});

test('ED and ES at the same phase give one copy; a source that cannot be decoded gives none, with the reason', () => {
  const one = buildViewerPhaseSeries({ context: study.context, labelMaps, phases: [{ name: 'ED', index: 1 }, { name: 'ES', index: 1 }], sources, segments: SEGMENTS, algorithm });
  assert.ok(one.written);
  assert.equal(one.objects.length, study.grid.slices + 1);
  const first = study.grid.images[0]![0]!.sopInstanceUID;
  // The same data set declared RLE Lossless in its file meta information (same length as Explicit VR
  // Little Endian's UID) while its Pixel Data stays native: nothing to decode, so no copies at all.
  const bytes = Buffer.from(writePart10(readPart10(sources.get(first)!)));
  const at = bytes.indexOf('1.2.840.10008.1.2.1\0');
  assert.ok(at > 0);
  bytes.write('1.2.840.10008.1.2.5\0', at, 'latin1');
  const broken = buildViewerPhaseSeries({ context: study.context, labelMaps, phases, sources: new Map([...sources, [first, new Uint8Array(bytes)]]), segments: SEGMENTS, algorithm });
  assert.equal(broken.written, false);
  assert.match(broken.written ? '' : broken.reason, /pixel data \(transfer syntax 1\.2\.840\.10008\.1\.2\.5\) could not be decoded/);
});

/** Every source re-encoded by a DCMTK tool (a real encoder), as a compressed study would arrive (same SOP Instance UIDs: the label maps name them). */
function encodedSources(tool: string, args: string[]): Map<string, Uint8Array> {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-phase-copy-'));
  try {
    return new Map(
      [...sources].map(([uid, bytes], i) => {
        const input = join(dir, `${i}.dcm`);
        const output = join(dir, `${i}.enc.dcm`);
        writeFileSync(input, bytes);
        execFileSync(tool, [...args, input, output]);
        return [uid, new Uint8Array(readFileSync(output))];
      }),
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const codecs: Array<[string, string, string[], string, boolean]> = [
  ['RLE Lossless', 'dcmcrle', [], '1.2.840.10008.1.2.5', false],
  ['JPEG Lossless, first-order prediction', 'dcmcjpeg', ['--encode-lossless-sv1'], '1.2.840.10008.1.2.4.70', false],
  ['JPEG-LS Lossless', 'dcmcjpls', ['--encode-lossless'], '1.2.840.10008.1.2.4.80', false],
  ['JPEG-LS near-lossless (lossy)', 'dcmcjpls', ['--encode-nearlossless', '--max-deviation', '2', '--uid-never'], '1.2.840.10008.1.2.4.81', true],
];
for (const [name, tool, args, syntax, lossy] of codecs) {
  test(`a ${name} source gets copies in Explicit VR Little Endian holding its decoded pixel values${lossy ? ', marked lossy' : ''}`, () => {
    const encoded = encodedSources(tool, args);
    const first = [...encoded.values()][0]!;
    assert.ok(Buffer.from(first.subarray(0, 400)).includes(syntax), `${tool} wrote ${syntax}`);
    const copies = buildViewerPhaseSeries({ context: study.context, labelMaps, phases, sources: encoded, segments: SEGMENTS, algorithm, contentDateTime: at });
    assert.ok(copies.written, copies.written ? '' : copies.reason);
    for (const bytes of copies.objects) {
      const copy = readPart10(bytes);
      if (copy.Modality === 'SEG') continue;
      const sourceUid = copy.SourceImageSequence[0].ReferencedSOPInstanceUID as string;
      const decodedSource = parseInstance('source', encoded.get(sourceUid)!).decodeStoredFrames()[0]!;
      const copyPixels = parseInstance('copy', bytes);
      assert.equal(copyPixels.transferSyntaxUID, '1.2.840.10008.1.2.1');
      assert.deepEqual(Array.from(copyPixels.decodeStoredFrames()[0]!), Array.from(decodedSource), 'the decoded values');
      if (!lossy) {
        // Lossless: the very values of the uncompressed original.
        assert.deepEqual(new Uint8Array(copy.PixelData[0]), new Uint8Array(readPart10(sources.get(sourceUid)!).PixelData[0]));
      }
      assert.equal(copy.LossyImageCompression, lossy ? '01' : readPart10(sources.get(sourceUid)!).LossyImageCompression);
      if (lossy) assert.equal(copy.LossyImageCompressionMethod, 'ISO_14495_1');
    }
    const report = dciodvfy(copies.objects[0]!);
    const known = new Set(dciodvfy(synth.files[0]!.bytes).errors);
    assert.deepEqual(report.errors.filter((e) => !known.has(e)), [], report.output);
  });
}

test('the router treats the copies as our outputs, never as a cine to process', () => {
  const config = ConfigSchema.parse({ orthanc: { url: 'http://localhost:8042' } });
  const copy = { orthancId: 'c', seriesInstanceUID: '1.2.3.11', modality: 'MR', seriesDescription: 'PULSE ED phase copy (for viewers)', bodyPartExamined: 'HEART', manufacturer: MANUFACTURER, sopClassUID: '1.2.840.10008.5.1.4.1.1.4', instances: [{ orthancId: 'x' }] };
  assert.equal(isOwnOutput(copy, config.ownOutputs), true);
  // Either sign alone on an image series stays a source (a scanner named so, a protocol named so).
  assert.equal(isOwnOutput({ ...copy, manufacturer: 'Siemens' }, config.ownOutputs), false);
  assert.equal(isOwnOutput({ ...copy, seriesDescription: 'cine SAX' }, config.ownOutputs), false);
});

test('processStudy with viewerPhaseSeries: the copies and per-phase SEGs of ED and ES, from the same label maps as the combined SEG', { skip: existsSync(bundledManifest) ? false : 'the bundled model is missing', timeout: 120_000 }, async () => {
  const outputs = await processStudy(instances, { viewerPhaseSeries: true });
  const { ed, es } = outputs.result.phases;
  assert.equal(outputs.viewerPhaseSeriesSkipped, undefined);
  const objects = outputs.viewerPhaseSeries ?? [];
  assert.equal(objects.length, (ed === es ? 1 : 2) * (study.grid.slices + 1));
  const segs = objects.map((b) => readPart10(b)).filter((d) => d.Modality === 'SEG');
  const combined = readPart10(outputs.seg!);
  // Together the per-phase SEGs hold exactly the combined SEG's frames.
  assert.equal(segs.reduce((n, d) => n + Number(d.NumberOfFrames), 0), Number(combined.NumberOfFrames));
  const without = await processStudy(instances);
  assert.equal(without.viewerPhaseSeries, undefined, 'off by default');
});
