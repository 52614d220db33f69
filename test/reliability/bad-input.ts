/**
 * The bad-input studies of the reliability suite: every file of the shared DICOM corpus as a study of
 * its own (new Study/Series/SOP Instance UIDs written by dcmodify, so files that shared a study do not
 * merge; a file dcmodify cannot rewrite goes in as it is), and generated broken studies built from the
 * synthetic generator. Each must end processed with valid outputs, or failed or skipped with a reason;
 * never a crash, a lost job or a broken object in Orthanc.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { generateStudy } from '../../src/synth/index.js';
import { breakStudy } from '../../src/synth/broken.js';
import { readPart10, writePart10 } from '../../src/dicom/modules/part10.js';
import { deterministicUid } from '../../src/dicom/uid.js';
import { seededRandom } from '../../src/util/seeded-random.js';
import { sharedData } from '../support/paths.js';
import { makeCtImage } from '../service-support.js';

export interface BadStudy {
  /** What it is (the report lists the outcome per kind). */
  readonly kind: string;
  readonly files: readonly Uint8Array[];
}

/** A small cine study of the synthetic generator (4 slices x 6 phases: above the router's 3 x 2 minimum). */
export function smallCine(seed: number, slices = 4, phases = 6): Uint8Array[] {
  return generateStudy({ seed, slices, phases }).files.map((f) => f.bytes);
}

type Dataset = Record<string, any>;

function rewrite(files: readonly Uint8Array[], change: (ds: Dataset, k: number) => void): Uint8Array[] {
  return files.map((bytes, k) => {
    const ds = readPart10(bytes);
    delete ds._meta;
    change(ds, k);
    return writePart10(ds);
  });
}

/** Explicit VR Little Endian: the element header of `group,element` with VR `vr`, or -1. */
function findElement(bytes: Uint8Array, group: number, element: number, vr: string): number {
  const pattern = [group & 0xff, group >> 8, element & 0xff, element >> 8, vr.charCodeAt(0), vr.charCodeAt(1)];
  outer: for (let i = 132; i < bytes.length - pattern.length; i++) {
    for (let j = 0; j < pattern.length; j++) if (bytes[i + j] !== pattern[j]) continue outer;
    return i;
  }
  return -1;
}

/** Swaps the VR of an element in place (same length field size), so its value is read as another type. */
function swapVr(bytes: Uint8Array, group: number, element: number, from: string, to: string): Uint8Array {
  const out = bytes.slice();
  const at = findElement(out, group, element, from);
  if (at >= 0) {
    out[at + 4] = to.charCodeAt(0);
    out[at + 5] = to.charCodeAt(1);
  }
  return out;
}

/** The generated broken studies (seeds from `seed`): one study per kind. */
export function generatedBadStudies(seed: number): BadStudy[] {
  const random = seededRandom(seed);
  const base = (k: number) => smallCine(seed + k);
  const studies: BadStudy[] = [];
  // Truncated files: every fifth file cut at 40-90 % of its length (Orthanc refuses most of them, which
  // leaves slices with fewer phases than the others).
  studies.push({ kind: 'truncated files', files: base(1).map((b, k) => (k % 5 === 2 ? b.subarray(0, Math.floor(b.length * (0.4 + 0.5 * random()))) : b)) });
  // Garbage in the pixel data of half the files.
  const garbage = generateStudy({ seed: seed + 2, slices: 4, phases: 6 });
  studies.push({ kind: 'garbage pixel data in half the files', files: breakStudy(garbage.files, 'garbage-tail', seed).map((f) => f.bytes) });
  // Wrong VRs: Rows read as signed, PixelSpacing's text read as two 32-bit integers, PixelData as OB.
  studies.push({
    kind: 'wrong VRs',
    files: base(3).map((b, k) => (k % 2 === 0 ? swapVr(swapVr(b, 0x0028, 0x0010, 'US', 'SS'), 0x0028, 0x0030, 'DS', 'UL') : swapVr(b, 0x7fe0, 0x0010, 'OW', 'OB'))),
  });
  // Huge declared dimensions: 30000 x 30000 pixels declared, the original few kB of pixel data.
  studies.push({ kind: 'huge declared dimensions', files: rewrite(base(4), (ds) => Object.assign(ds, { Rows: 30_000, Columns: 30_000 })) });
  // Zero-length pixel data in every file.
  studies.push({ kind: 'zero-length pixel data', files: rewrite(base(5), (ds) => Object.assign(ds, { PixelData: [new ArrayBuffer(0)] })) });
  // Mixed series: a second study's images (another matrix and geometry) filed under the first's series.
  const first = base(6).map((b) => readPart10(b));
  const { StudyInstanceUID, SeriesInstanceUID, PatientID, PatientName, FrameOfReferenceUID } = first[0]!;
  studies.push({
    kind: 'mixed series',
    files: [...base(6), ...rewrite(smallCine(seed + 7, 3, 5), (ds) => Object.assign(ds, { StudyInstanceUID, SeriesInstanceUID, PatientID, PatientName, FrameOfReferenceUID }))],
  });
  // Duplicate SOP Instance UIDs: every fifth file reuses the previous file's UID (Orthanc keeps one of them).
  const dup = base(8).map((b) => readPart10(b));
  studies.push({
    kind: 'duplicate SOP Instance UIDs',
    files: rewrite(base(8), (ds, k) => {
      if (k % 5 === 4) ds.SOPInstanceUID = dup[k - 1]!.SOPInstanceUID;
    }),
  });
  // Two patients under one StudyInstanceUID: the same study uploaded for a second patient.
  const shared = base(9);
  studies.push({ kind: 'two patients under one StudyInstanceUID', files: [...shared, ...rewrite(shared, (ds) => Object.assign(ds, { PatientID: `OTHER${seed}`, PatientName: 'Other^Patient' }))] });
  // Non-cardiac: a cine-shaped study with no heart in it; and a single CT image.
  studies.push({ kind: 'non-cardiac cine', files: breakStudy(generateStudy({ seed: seed + 10, slices: 4, phases: 6 }).files, 'non-cardiac', seed).map((f) => f.bytes) });
  studies.push({ kind: 'non-cardiac CT image', files: makeCtImage(seed + 11).files });
  return studies;
}

/** Every DICOM file under `dir` (recursive), sorted; notes and tables left out. */
function corpusFiles(dir: string): string[] {
  return (readdirSync(dir, { recursive: true }) as string[])
    .map((f) => join(dir, f))
    .filter((f) => statSync(f).isFile() && !/\.(txt|md|json|tsv)$/iu.test(f))
    .sort();
}

/** Each corpus file as a study of its own: new UIDs by dcmodify (the file's own encoding kept), or the file as it is. */
export function corpusStudies(limit = Number.POSITIVE_INFINITY): BadStudy[] {
  const dir = join(sharedData, 'dicom-corpus');
  const work = mkdtempSync(join(tmpdir(), 'pulse-reliability-corpus-'));
  try {
    return corpusFiles(dir)
      .slice(0, limit)
      .map((file, k) => {
        const copy = join(work, `${k}.dcm`);
        copyFileSync(file, copy);
        const uid = (what: string) => deterministicUid(`reliability-corpus-${what}`, k);
        const modified = spawnSync('dcmodify', ['-nb', '-m', `(0020,000d)=${uid('study')}`, '-m', `(0020,000e)=${uid('series')}`, '-m', `(0008,0018)=${uid('instance')}`, copy], { encoding: 'utf8' });
        return { kind: `corpus ${relative(dir, file)}${modified.status === 0 ? '' : ' (as is)'}`, files: [new Uint8Array(readFileSync(copy))] };
      });
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** The seed files of the fuzz run: real files of the corpus that decode, and a synthetic cine image. */
export function fuzzSeeds(): Array<{ name: string; bytes: Uint8Array<ArrayBufferLike> }> {
  const dir = join(sharedData, 'dicom-corpus');
  const names = ['pydicom/MR_small.dcm', 'pydicom/MR_small_RLE.dcm', 'pydicom/MR_small_bigendian.dcm', 'pydicom-data/emri_small_jpeg_2k_lossless.dcm', 'pydicom-data/emri_small_jpeg_ls_lossless.dcm', 'pydicom-data/JPEG-LL.dcm', 'pydicom/SC_rgb_jpeg_dcmtk.dcm', 'pydicom-data/emri_small.dcm'];
  const seeds: Array<{ name: string; bytes: Uint8Array<ArrayBufferLike> }> = names.map((name) => ({ name, bytes: new Uint8Array(readFileSync(join(dir, name))) }));
  seeds.push({ name: 'synthetic cine image', bytes: smallCine(1)[0]! });
  return seeds;
}
