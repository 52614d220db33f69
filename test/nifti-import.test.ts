import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { sharedData } from './support/paths.js';
import { importAcdcPatient, importNiftiVolume, parseAcdcInfo, readNifti } from '../src/nifti/index.js';
import type { ImportedFile } from '../src/nifti/index.js';

const patient001 = join(sharedData, 'acdc', 'training', 'patient001');

interface Written {
  SOPInstanceUID: string;
  ImagePositionPatient: number[];
  ImageOrientationPatient: number[];
  PixelSpacing: number[];
  Rows: number;
  Columns: number;
  TriggerTime: number;
  SpacingBetweenSlices: number;
  SliceThickness: number;
  PixelData: ArrayBuffer[];
  RescaleSlope?: number;
  RescaleIntercept?: number;
  [key: string]: unknown;
}

function parse(file: ImportedFile): Written {
  const bytes = file.bytes;
  const dict = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict) as Written;
}

/** DICOM's world position of pixel (column i, row j): IPP + i * rowDir * PixelSpacing[1] + j * colDir * PixelSpacing[0]. */
function dicomWorld(ds: Written, i: number, j: number): number[] {
  const iop = ds.ImageOrientationPatient;
  const [rowSpacing, colSpacing] = ds.PixelSpacing as [number, number];
  return [0, 1, 2].map((a) => ds.ImagePositionPatient[a]! + i * iop[a]! * colSpacing + j * iop[3 + a]! * rowSpacing);
}

/** LPS world position of voxel (i,j,k) from a RAS affine. */
function niftiWorldLps(affine: number[][], i: number, j: number, k: number): number[] {
  const ras = [0, 1, 2].map((r) => affine[r]![0]! * i + affine[r]![1]! * j + affine[r]![2]! * k + affine[r]![3]!);
  return [-ras[0]!, -ras[1]!, ras[2]!];
}

function assertClose(actual: readonly number[], expected: readonly number[], tolerance: number, what: string): void {
  for (let n = 0; n < expected.length; n++) {
    assert.ok(Math.abs(actual[n]! - expected[n]!) <= tolerance, `${what}: ${actual.join(',')} vs ${expected.join(',')}`);
  }
}

test('Info.cfg gives ED, ES, group, height, weight and frame count', () => {
  const info = parseAcdcInfo('ED: 1\nES: 12\nGroup: DCM\nHeight: 184.0\nNbFrame: 30\nWeight: 95.0\n');
  assert.deepEqual(info, { ed: 1, es: 12, group: 'DCM', heightCm: 184, weightKg: 95, nbFrames: 30 });
  assert.throws(() => parseAcdcInfo('ES: 12\nNbFrame: 30'), /ed is missing/);
});

test('an ACDC patient becomes one MR cine series: slices x 2 phases, geometry and demographics from the NIfTI and Info.cfg', async () => {
  const acdc = await importAcdcPatient(patient001);
  const { info } = acdc;
  assert.equal(info.patientId, 'ACDC-patient001');
  assert.equal(info.group, 'DCM');
  assert.deepEqual([info.columns, info.rows, info.slices, info.phases], [216, 256, 10, 2]);
  assert.equal(acdc.files.length, 20);
  assert.equal(info.affineSource, 'sform-pixdim', 'the ACDC sform has unit columns: lengths come from pixdim');

  const image = await readNifti(join(patient001, 'patient001_frame12.nii.gz'));
  const labels = await readNifti(join(patient001, 'patient001_frame12_gt.nii.gz'));
  const written = acdc.files.map(parse);
  const uids = new Set(written.map((w) => w.SOPInstanceUID));
  assert.equal(uids.size, 20);
  for (const ds of written) {
    assert.equal(ds.SOPClassUID, '1.2.840.10008.5.1.4.1.1.4');
    assert.equal(ds.StudyInstanceUID, info.studyInstanceUID);
    assert.equal(ds.SeriesInstanceUID, info.seriesInstanceUID);
    assert.equal(ds.PatientID, 'ACDC-patient001');
    assert.equal(ds.PatientSize, 1.84);
    assert.equal(ds.PatientWeight, 95);
    assert.deepEqual(ds.PixelSpacing, [1.5625, 1.5625]);
    assert.equal(ds.SpacingBetweenSlices, 10);
    assert.equal(ds.Rows, 256);
    assert.equal(ds.Columns, 216);
  }
  // ED (frame 1) is phase 0 at 0 ms, ES (frame 12) phase 1 at 11 x 1000/30 ms.
  const es = info.instances.find((x) => x.slice === 4 && x.phase === info.esPhase)!;
  const esFile = written[info.instances.indexOf(es)]!;
  assert.equal(info.edPhase, 0);
  assert.equal(esFile.TriggerTime, 366.67);
  // Pixels and labels are the NIfTI slice, i fastest (DICOM column index = i, row index = j).
  const pixels = new Int16Array(esFile.PixelData[0]!);
  const plane = 216 * 256;
  for (const n of [0, 1000, 30_000, plane - 1]) assert.equal(pixels[n], image.data[4 * plane + n]);
  const map = acdc.labels.get(es.sopInstanceUID)!;
  assert.equal(map.length, plane);
  let labelled = 0;
  for (let n = 0; n < plane; n++) {
    assert.equal(map[n], labels.data[4 * plane + n]);
    if (map[n]! > 0) labelled++;
  }
  assert.ok(labelled > 100, 'the mid-ventricular ES slice has labels');
});

test('re-importing an ACDC patient gives the same UIDs and bytes', async () => {
  const a = await importAcdcPatient(patient001, { labels: false });
  const b = await importAcdcPatient(patient001, { labels: false });
  assert.equal(a.info.studyInstanceUID, b.info.studyInstanceUID);
  assert.deepEqual(a.info.instances.map((x) => x.sopInstanceUID), b.info.instances.map((x) => x.sopInstanceUID));
  assert.deepEqual(a.files[5]!.bytes, b.files[5]!.bytes);
  assert.equal(a.labels.size, 0);
});

test('dciodvfy finds no errors in imported ACDC files', async () => {
  const acdc = await importAcdcPatient(patient001, { labels: false });
  const dir = mkdtempSync(join(tmpdir(), 'pulse-nifti-'));
  try {
    for (const file of [acdc.files[0]!, acdc.files[13]!]) {
      const path = join(dir, file.name);
      writeFileSync(path, file.bytes);
      const out = spawnSync('dciodvfy', [path], { encoding: 'utf8' });
      const text = `${out.stdout}${out.stderr}`;
      assert.match(text, /MRImage/, 'dciodvfy recognised the IOD');
      const errors = text.split('\n').filter((line) => /^Error/.test(line));
      assert.deepEqual(errors, [], text);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('ACDC geometry: every voxel sits where the NIfTI affine (in LPS) puts it', async () => {
  const acdc = await importAcdcPatient(patient001, { labels: false });
  const written = acdc.files.map(parse);
  // The ACDC sform holds directions only; pixdim gives the lengths (1.5625, 1.5625, 10).
  const affine = [
    [-1.5625, 0, 0, 0],
    [0, -1.5625, 0, 0],
    [0, 0, 10, 0],
  ];
  for (const [n, inst] of acdc.info.instances.entries()) {
    for (const [i, j] of [[0, 0], [215, 0], [0, 255], [100, 37]] as const) {
      assertClose(dicomWorld(written[n]!, i, j), niftiWorldLps(affine, i, j, inst.slice), 1e-4, `voxel ${i},${j},${inst.slice}`);
    }
  }
});

const python = '/usr/bin/python3';
const hasNibabel = spawnSync(python, ['-c', 'import nibabel'], { encoding: 'utf8' }).status === 0;

/** Writes a NIfTI with nibabel and returns the affine nibabel itself reports (the independent reader). */
function writeWithNibabel(path: string, script: string): number[][] {
  const code = `
import json, numpy as np, nibabel as nib
${script}
nib.save(img, ${JSON.stringify(path)})
back = nib.load(${JSON.stringify(path)})
print(json.dumps(back.affine.tolist()))
`;
  return JSON.parse(execFileSync(python, ['-c', code], { encoding: 'utf8' })) as number[][];
}

for (const form of ['sform', 'qform'] as const) {
  test(`an oblique 4D NIfTI (${form}) keeps its geometry: DICOM plane positions equal nibabel's affine in LPS`, { skip: hasNibabel ? false : 'nibabel not installed' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'pulse-nifti-'));
    try {
      const path = join(dir, 'oblique.nii.gz');
      const labelsPath = join(dir, 'oblique_gt.nii.gz');
      const affine = writeWithNibabel(
        path,
        `
from scipy.spatial.transform import Rotation
R = Rotation.from_euler('xyz', [25, -40, 110], degrees=True).as_matrix()
A = np.eye(4); A[:3,:3] = R @ np.diag([1.3, 1.7, 8.0]); A[:3,3] = [-12.5, 40.25, 3.0]
data = (np.arange(20*24*6*3).reshape((20,24,6,3), order='F') % 3000 - 500).astype(np.int16)
img = nib.Nifti1Image(data, A)
if ${form === 'sform' ? 'True' : 'False'}:
    img.set_sform(A, code=1); img.set_qform(A, code=0)
else:
    img.set_qform(A, code=1); img.set_sform(A, code=0)
img.header.set_xyzt_units('mm', 'msec'); img.header['pixdim'][4] = 40.0
nib.save(nib.Nifti1Image((data[..., 0] % 4).astype(np.uint8), A), ${JSON.stringify(labelsPath)})
`,
      );
      const imported = await importNiftiVolume(path, { labelsPath, patientId: 'TEST-OBLIQUE' });
      assert.equal(imported.info.affineSource, form);
      assert.deepEqual([imported.info.columns, imported.info.rows, imported.info.slices, imported.info.phases], [20, 24, 6, 3]);
      assert.equal(imported.files.length, 18);
      const written = imported.files.map(parse);
      const volume = await readNifti(path);
      for (const [n, inst] of imported.info.instances.entries()) {
        const ds = written[n]!;
        assert.equal(ds.TriggerTime, inst.phase * 40);
        assertClose(ds.PixelSpacing, [1.7, 1.3], 1e-5, 'PixelSpacing (rows, columns)');
        assert.ok(Math.abs(ds.SpacingBetweenSlices - 8) < 1e-5);
        for (const [i, j] of [[0, 0], [19, 0], [0, 23], [7, 11]] as const) {
          assertClose(dicomWorld(ds, i, j), niftiWorldLps(affine, i, j, inst.slice), 1e-3, `voxel ${i},${j},${inst.slice}`);
          const value = new Int16Array(ds.PixelData[0]!)[j * 20 + i];
          assert.equal(value, volume.data[i + 20 * (j + 24 * (inst.slice + 6 * inst.phase))]);
        }
        // A 3D label volume serves every phase.
        assert.equal(imported.labels.get(inst.sopInstanceUID)?.[7 + 20 * 11], (((volume.data[7 + 20 * (11 + 24 * inst.slice)]! % 4) + 4) % 4));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

test('a float NIfTI without orientation is written as int16 with a rescale that restores its values', { skip: hasNibabel ? false : 'nibabel not installed' }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-nifti-'));
  try {
    const path = join(dir, 'float.nii');
    writeWithNibabel(
      path,
      `
data = np.linspace(-3.5, 7.25, 8*6*2).reshape((8,6,2), order='F').astype(np.float32)
img = nib.Nifti1Image(data, None)
img.header.set_zooms((0.8, 0.9, 5.0))
img.set_qform(None, code=0); img.set_sform(None, code=0)
`,
    );
    const imported = await importNiftiVolume(path);
    assert.equal(imported.info.affineSource, 'pixdim');
    const volume = await readNifti(path);
    const ds = parse(imported.files[1]!);
    assert.deepEqual(ds.PixelSpacing, [0.9, 0.8]);
    const stored = new Int16Array(ds.PixelData[0]!);
    for (let n = 0; n < 48; n++) {
      const value = stored[n]! * ds.RescaleSlope! + ds.RescaleIntercept!;
      assert.ok(Math.abs(value - volume.data[48 + n]!) < 1e-3, `voxel ${n}: ${value} vs ${volume.data[48 + n]}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
