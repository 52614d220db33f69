import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { computeStudyFeatures, measureStudy } from '../src/analysis/index.js';
import { importAcdcPatient } from '../src/nifti/index.js';
import { readStudy } from '../src/study/read-study.js';
import type { LabelMap } from '../src/study/types.js';
import { makeContext, makeManifest } from './analysis-fixtures.js';
import { projectRoot, sharedData } from './support/paths.js';

/*
 * docs/study-features.md promises that training (Python) and the pipeline (TypeScript) compute the same
 * study features. This test feeds both the SAME label maps (an ACDC patient as the DICOM reader sees
 * it: [slice, row, column]) and compares every scalar feature. The Python side is the training
 * helper's code: a function `study_features` or `compute_study_features` in training/**.py, called
 * with keyword arguments it names from the table below. Skips, saying why, while that code is absent.
 */
const SCALARS = [
  'lvedv_ml', 'lvesv_ml', 'rvedv_ml', 'rvesv_ml', 'lvef_pct', 'rvef_pct', 'lv_mass_g', 'myo_es_ml',
  'lvedvi', 'lvesvi', 'rvedvi', 'rvesvi', 'lv_mass_i', 'rv_lv_edv_ratio', 'mass_edv_ratio',
  'myo_thickness_ed_mean_mm', 'myo_thickness_es_mean_mm', 'myo_thickness_ed_max_mm', 'myo_thickness_es_max_mm',
  'myo_thickening_pct', 'sector_thickness_ed_cv', 'sector_thickness_es_cv', 'sector_thickening_min_pct', 'sector_thickening_cv',
  'sector_thickening_std_pct',
];

/** PULSE_FEATURES_PY=<root>:<module.path>:<function> points the test at another implementation (e.g. a reference reading). */
function findPythonFeatures(): { root: string; module: string; fn: string } | undefined {
  const override = process.env.PULSE_FEATURES_PY;
  if (override) {
    const [root, module, fn] = override.split(':');
    return { root: root!, module: module!, fn: fn! };
  }
  const root = join(projectRoot, 'training');
  if (!existsSync(root)) return undefined;
  const stack = [root];
  while (stack.length > 0) {
    const dir = stack.pop()!;
    for (const name of readdirSync(dir)) {
      const path = join(dir, name);
      if (statSync(path).isDirectory()) {
        if (!/^(runs|__pycache__|\.)/.test(name)) stack.push(path);
      } else if (name.endsWith('.py')) {
        const m = /^def ((?:compute_)?study_features)\s*\(/m.exec(readFileSync(path, 'utf8'));
        if (m) return { root: projectRoot, module: relative(projectRoot, path).replace(/\.py$/, '').split('/').join('.'), fn: m[1]! };
      }
    }
  }
  return undefined;
}

// Calls the Python function with the training code's conventions (training/pulse_lite/features.py):
// label maps [rows, columns, slices] with rows/columns as the DICOM image has them, spacing
// (PixelSpacing[0], PixelSpacing[1], slice spacing) mm; prints JSON {name: value} of its scalars.
const DRIVER = `
import importlib, json, sys
import numpy as np
root, module_path, fn_name, case_path = sys.argv[1:5]
sys.path.insert(0, root)
case = json.load(open(case_path + '.json'))
shape = case['shape']
raw = np.fromfile(case_path + '.bin', dtype=np.uint8)
n = shape[0] * shape[1] * shape[2]
ed = raw[:n].reshape(shape).transpose(1, 2, 0)
es = raw[n:].reshape(shape).transpose(1, 2, 0)
fn = getattr(importlib.import_module(module_path), fn_name)
spacing = (case['pixelSpacing'][0], case['pixelSpacing'][1], case['sliceSpacingMm'])
out = fn(ed, es, spacing, height_cm=case['heightCm'], weight_kg=case['weightKg'], default_bsa=case['defaultBsaM2'])
print(json.dumps({k: float(v) for k, v in dict(out).items() if np.ndim(v) == 0}))
`;

// Features exactly as training computes them on an ACDC patient (its own NIfTI reading).
const TRAINING_ACDC = `
import json, sys
from pathlib import Path
root, folder = sys.argv[1:3]
sys.path.insert(0, root)
from training.pulse_lite import acdc, features
p = acdc.load_patient(Path(folder).parent, Path(folder).name)
out = features.study_features(p.ed.label, p.es.label, p.ed.spacing, p.height_cm, p.weight_kg)
print(json.dumps({k: float(v) for k, v in out.items()}))
`;

const PATIENT = 'patient021';

/** The pipeline's view of an ACDC patient: imported to DICOM, read back, features computed on the label maps. */
async function pipelineFeatures(folder: string) {
  const imported = await importAcdcPatient(folder);
  // ACDC's NIfTI affines are axis-aligned: the reader must accept any orientation for them.
  const study = readStudy(imported.files.map((f) => ({ source: f.name, bytes: f.bytes })), { orientation: 'any' });
  const { grid } = study;
  const labelMaps: LabelMap[][] = grid.images.map((row) => row.map((image) => ({ image, labels: imported.labels.get(image.sopInstanceUID)! })));
  const manifest = makeManifest(SCALARS.map((name) => ({ name })));
  const context = makeContext({ patientSizeM: imported.info.heightCm! / 100, patientWeightKg: imported.info.weightKg! });
  const phases = { ed: imported.info.edPhase, es: imported.info.esPhase };
  const m = measureStudy({ grid, labelMaps, manifest, context, knownPhases: phases });
  const features = computeStudyFeatures(
    { areasMm2: m.areasMm2, slabsMm: m.slabsMm, labels: m.labels, phases: m.phases, labelMaps, patientSizeM: context.patientSizeM!, patientWeightKg: context.patientWeightKg! },
    manifest.diagnosis.studyHead,
  );
  return { imported, grid, labelMaps, phases, m, manifest, features };
}

function compare(ts: { names: readonly string[]; raw: Float32Array }, py: Record<string, number>, where: string): string[] {
  const compared = SCALARS.filter((name) => name in py);
  assert.ok(compared.length > 0, `${where} returned none of the documented feature names: ${Object.keys(py).join(', ')}`);
  const differences: string[] = [];
  for (const name of compared) {
    const a = ts.raw[ts.names.indexOf(name)]!;
    const b = py[name]!;
    if (!(Math.abs(a - b) <= 1e-4 * Math.max(1, Math.abs(b)))) differences.push(`${name}: TypeScript ${a} vs Python ${b}`);
  }
  return differences;
}

describe('study features: TypeScript vs the training code (Python)', () => {
  const folder = join(sharedData, 'acdc', 'training', PATIENT);

  it('gives the same scalar features on the same label maps', async (t) => {
    const python = findPythonFeatures();
    if (!python) {
      t.skip('no Python study-feature code in training/ yet (looked for "def study_features(" or "def compute_study_features(")');
      return;
    }
    if (!existsSync(folder)) {
      t.skip(`ACDC data not found at ${folder}`);
      return;
    }
    const { imported, grid, labelMaps, phases, m, manifest, features } = await pipelineFeatures(folder);
    const dir = mkdtempSync(join(tmpdir(), 'pulse-parity-'));
    try {
      const { rows, columns, pixelSpacing } = grid.images[0]![0]!.plane;
      const n = grid.slices * rows * columns;
      const bytes = new Uint8Array(2 * n);
      labelMaps.forEach((row, s) => {
        bytes.set(row[phases.ed]!.labels, s * rows * columns);
        bytes.set(row[phases.es]!.labels, n + s * rows * columns);
      });
      const casePath = join(dir, 'case');
      writeFileSync(`${casePath}.bin`, bytes);
      writeFileSync(
        `${casePath}.json`,
        JSON.stringify({
          shape: [grid.slices, rows, columns],
          pixelSpacing,
          sliceSpacingMm: m.slabsMm[0],
          heightCm: imported.info.heightCm,
          weightKg: imported.info.weightKg,
          defaultBsaM2: manifest.diagnosis.studyHead.defaultBsaM2,
        }),
      );
      assert.ok(m.slabsMm.every((d) => Math.abs(d - m.slabsMm[0]!) < 1e-6), 'ACDC stacks are evenly spaced (the Python side takes one slice spacing)');
      const where = `${python.module}.${python.fn}`;
      const py = JSON.parse(execFileSync('/usr/bin/python3', ['-c', DRIVER, python.root, python.module, python.fn, casePath], { encoding: 'utf8' })) as Record<string, number>;
      assert.deepEqual(compare(features, py, where), []);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it(
    "matches training's own reading of the ACDC patient (same image orientation as the DICOM the pipeline reads)",
    async (t) => {
      if (!existsSync(join(projectRoot, 'training', 'pulse_lite', 'acdc.py')) || !findPythonFeatures()) {
        t.skip('training/pulse_lite (acdc.py, features.py) not present');
        return;
      }
      if (!existsSync(folder)) {
        t.skip(`ACDC data not found at ${folder}`);
        return;
      }
      const { features } = await pipelineFeatures(folder);
      const py = JSON.parse(execFileSync('/usr/bin/python3', ['-c', TRAINING_ACDC, projectRoot, folder], { encoding: 'utf8' })) as Record<string, number>;
      assert.deepEqual(compare(features, py, 'training acdc + features'), []);
    },
  );
});
