import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { measureStudy } from '../src/analysis/index.js';
import { importAcdcPatient } from '../src/nifti/index.js';
import { readStudy } from '../src/study/read-study.js';
import type { LabelMap } from '../src/study/types.js';
import { makeManifest } from './analysis-fixtures.js';
import { sharedData } from './support/paths.js';

/**
 * Real anatomy, real readers: an ACDC patient imported to DICOM (src/nifti), read back by the study
 * reader (src/study), measured here — against an independent count of the expert-label voxels by
 * nibabel (ACDC stacks are evenly spaced, so area x centre distance equals voxel count x voxel volume).
 */
const PATIENTS = ['patient001', 'patient041'];

const NIBABEL = `
import json, sys, nibabel as nib, numpy as np
folder, name = sys.argv[1], sys.argv[2]
cfg = dict(l.split(':', 1) for l in open(f'{folder}/Info.cfg').read().splitlines() if ':' in l)
out = {}
for phase in ('ED', 'ES'):
    img = nib.load(f'{folder}/{name}_frame{int(cfg[phase]):02d}_gt.nii.gz')
    data = np.asarray(img.dataobj)
    voxel_ml = float(np.prod(img.header.get_zooms()[:3])) / 1000
    out[phase] = {str(k): float((data == k).sum()) * voxel_ml for k in (1, 2, 3)}
print(json.dumps(out))
`;

describe('measurements on imported ACDC patients', () => {
  for (const name of PATIENTS) {
    it(`matches nibabel voxel counts of the expert labels (${name})`, async (t) => {
      const folder = join(sharedData, 'acdc', 'training', name);
      if (!existsSync(folder)) {
        t.skip(`ACDC data not found at ${folder}`);
        return;
      }
      const imported = await importAcdcPatient(folder);
      // ACDC's NIfTI affines are axis-aligned: the reader must accept any orientation for them.
      const study = readStudy(imported.files.map((f) => ({ source: f.name, bytes: f.bytes })), { orientation: 'any' });
      const { grid, context } = study;
      const labelMaps: LabelMap[][] = grid.images.map((row) =>
        row.map((image) => {
          const labels = imported.labels.get(image.sopInstanceUID);
          assert.ok(labels, `no label map for an instance of ${name}`);
          return { image, labels };
        }),
      );
      const m = measureStudy({ grid, labelMaps, manifest: makeManifest(), context, knownPhases: { ed: imported.info.edPhase, es: imported.info.esPhase } });
      const reference = JSON.parse(execFileSync('/usr/bin/python3', ['-c', NIBABEL, folder, name], { encoding: 'utf8' })) as Record<'ED' | 'ES', Record<string, number>>;
      // Positions come back through DICOM decimal strings: allow 1e-4 relative.
      const near = (actual: number, expected: number, what: string) =>
        assert.ok(Math.abs(actual - expected) <= 1e-4 * Math.max(1, expected), `${name} ${what}: ${actual} vs nibabel ${expected}`);
      near(m.exact.lvedv_ml!, reference.ED['3']!, 'LVEDV');
      near(m.exact.lvesv_ml!, reference.ES['3']!, 'LVESV');
      near(m.exact.rvedv_ml!, reference.ED['1']!, 'RVEDV');
      near(m.exact.rvesv_ml!, reference.ES['1']!, 'RVESV');
      near(m.exact.lv_mass_g!, reference.ED['2']! * 1.05, 'LV mass');
      assert.ok(m.exact.lvedv_ml! > 50 && m.exact.lvedv_ml! < 500, `${name}: LVEDV ${m.exact.lvedv_ml} ml is not a human ventricle`);
      // Info.cfg height and weight travel as PatientSize/PatientWeight: indexed values appear.
      assert.ok(m.measurements.bsa_m2 !== undefined && m.measurements.lvedvi_ml_m2 !== undefined);
    });
  }
});
