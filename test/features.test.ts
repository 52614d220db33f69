import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { computeStudyFeatures, measureStudy } from '../src/analysis/index.js';
import { existsSync } from 'node:fs';
import { sectorAreas } from '../src/analysis/study-features.js';
import { loadManifest } from '../src/model/manifest.js';
import { bundledManifest } from './support/paths.js';
import { LV, makeContext, makeManifest, makeStudy, MYO, paint, RV, type ImageSpec } from './analysis-fixtures.js';

/*
 * Hand-built case (10x10 images at 1 x 1 mm, two slices 8 mm apart, ED = phase 0, ES = phase 1).
 * LV cavity: the 2x2 block rows 4-5, columns 4-5 (centroid 4.5, 4.5) on every map.
 * Myocardium: the 12-pixel ring around it (rows/cols 3-6), plus pixel (4, 2) on slice 1 at ED and on
 * both slices at ES. Sectors (angle measured from atan2(dr, dc) + π, 60° each), counted by hand:
 *   LV pixels (dr, dc) = (−.5, −.5) -> 0, (−.5, .5) -> 2, (.5, .5) -> 3, (.5, −.5) -> 5 (one each);
 *   ring: two pixels in each of the six sectors; (4, 2) = (−.5, −2.5) -> sector 0.
 * RV: 10 pixels at ED and 4 at ES on slice 0 (row 8/9), none on slice 1.
 */
const spec: ImageSpec = { rows: 10, columns: 10, pixelSpacing: [1, 1] };
const lvBlock: Array<[number, number]> = [[4, 4], [4, 5], [5, 4], [5, 5]];
const ring: Array<[number, number]> = [
  [3, 3], [3, 4], [3, 5], [3, 6], [6, 3], [6, 4], [6, 5], [6, 6], [4, 3], [5, 3], [4, 6], [5, 6],
];
const extra: Array<[number, number]> = [[4, 2]];

function handStudy() {
  return makeStudy([0, 8], 2, [spec], (s, t, labels) => {
    paint(labels, 10, lvBlock, LV);
    paint(labels, 10, ring, MYO);
    if (s === 1 || t === 1) paint(labels, 10, extra, MYO);
    if (s === 0) paint(labels, 10, Array.from({ length: t === 0 ? 10 : 4 }, (_, i) => [8 + Math.floor(i / 10), i % 10] as [number, number]), RV);
  });
}

const ALL_SCALARS = [
  'lvedv_ml', 'lvesv_ml', 'rvedv_ml', 'rvesv_ml', 'lvef_pct', 'rvef_pct', 'lv_mass_g', 'myo_es_ml',
  'lvedvi', 'lvesvi', 'rvedvi', 'rvesvi', 'lv_mass_i', 'rv_lv_edv_ratio', 'mass_edv_ratio',
  'myo_thickness_ed_mean_mm', 'myo_thickness_es_mean_mm', 'myo_thickness_ed_max_mm', 'myo_thickness_es_max_mm',
  'myo_thickening_pct', 'sector_thickness_ed_cv', 'sector_thickness_es_cv', 'sector_thickening_min_pct', 'sector_thickening_cv',
  'sector_thickening_std_pct',
];

function features(names: ReadonlyArray<{ name: string; size?: number }>, context = makeContext({ patientSizeM: 1.8, patientWeightKg: 80 }), embeddings?: Float32Array[][]) {
  const { grid, labelMaps } = handStudy();
  const manifest = makeManifest(names);
  const m = measureStudy({ grid, labelMaps, manifest, context, knownPhases: { ed: 0, es: 1 } });
  return computeStudyFeatures(
    {
      areasMm2: m.areasMm2, slabsMm: m.slabsMm, labels: m.labels, phases: m.phases, labelMaps,
      ...(context.patientSizeM !== undefined ? { patientSizeM: context.patientSizeM } : {}),
      ...(context.patientWeightKg !== undefined ? { patientWeightKg: context.patientWeightKg } : {}),
      ...(embeddings ? { embeddings } : {}),
    },
    manifest.diagnosis.studyHead,
  );
}

const sqrt = Math.sqrt;
const pi = Math.PI;
const std = (v: number[]) => { const m = v.reduce((a, b) => a + b, 0) / v.length; return sqrt(v.reduce((a, x) => a + (x - m) ** 2, 0) / v.length); };
const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;

describe('study features (docs/study-features.md)', () => {
  it('assigns pixels to the six sectors as counted by hand', () => {
    const { labelMaps } = handStudy();
    assert.deepEqual(sectorAreas(labelMaps[0]![0]!, LV, MYO), { lv: [1, 0, 1, 1, 0, 1], myo: [2, 2, 2, 2, 2, 2] });
    assert.deepEqual(sectorAreas(labelMaps[1]![0]!, LV, MYO), { lv: [1, 0, 1, 1, 0, 1], myo: [3, 2, 2, 2, 2, 2] });
  });

  it('computes every scalar feature equal to the hand-computed value', () => {
    const f = features(ALL_SCALARS.map((name) => ({ name })));
    // Volumes: LV 4 + 4 px, myo ED 12 + 13, ES 13 + 13, RV ED 10, ES 4; slabs 8 mm; BSA sqrt(180·80/3600) = 2.
    const lvedv = 0.064, lvesv = 0.064, rvedv = 0.08, rvesv = 0.032, mass = 0.2 * 1.05, myoEs = 0.208, bsa = 2;
    // Annulus thickness: sqrt((A_lv + A_myo)/π) − sqrt(A_lv/π).
    const th12 = sqrt(16 / pi) - sqrt(4 / pi);
    const th13 = sqrt(17 / pi) - sqrt(4 / pi);
    const edMean = (th12 + th13) / 2;
    const esMean = th13;
    // Sector thickness sqrt(2(A_lv_j + A_myo_j)/θ) − sqrt(2 A_lv_j/θ), θ = π/3: a (1 LV + 2 myo), b (1 LV + 3 myo).
    const a = sqrt(18 / pi) - sqrt(6 / pi);
    const b = sqrt(24 / pi) - sqrt(6 / pi);
    const edSectors = [a, a, a, a, b, a, a, a]; // slice 0: sectors 0,2,3,5; slice 1: sector 0 = b
    const esSectors = [b, a, a, a, b, a, a, a]; // at ES both slices carry the extra pixel in sector 0
    const thickening = [((b - a) / a) * 100, 0, 0, 0, 0, 0, 0, 0]; // only slice 0 sector 0 changes
    const expected: Record<string, number> = {
      lvedv_ml: lvedv, lvesv_ml: lvesv, rvedv_ml: rvedv, rvesv_ml: rvesv,
      lvef_pct: 0, rvef_pct: 60, lv_mass_g: mass, myo_es_ml: myoEs,
      lvedvi: lvedv / bsa, lvesvi: lvesv / bsa, rvedvi: rvedv / bsa, rvesvi: rvesv / bsa, lv_mass_i: mass / bsa,
      rv_lv_edv_ratio: 1.25, mass_edv_ratio: mass / lvedv,
      myo_thickness_ed_mean_mm: edMean, myo_thickness_es_mean_mm: esMean,
      myo_thickness_ed_max_mm: th13, myo_thickness_es_max_mm: th13,
      myo_thickening_pct: ((esMean - edMean) / edMean) * 100,
      sector_thickness_ed_cv: std(edSectors) / meanOf(edSectors),
      sector_thickness_es_cv: std(esSectors) / meanOf(esSectors),
      sector_thickening_min_pct: 0,
      sector_thickening_cv: std(thickening) / meanOf(thickening),
      sector_thickening_std_pct: std(thickening),
    };
    assert.deepEqual(f.names, ALL_SCALARS);
    ALL_SCALARS.forEach((name, i) => {
      const want = Math.fround(expected[name]!);
      assert.ok(Math.abs(f.raw[i]! - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${name}: ${f.raw[i]} != ${want}`);
    });
    assert.ok(expected.sector_thickness_ed_cv! > 0 && expected.sector_thickness_es_cv! > expected.sector_thickness_ed_cv! && expected.sector_thickening_cv! > 0, 'the case exercises non-trivial CVs');
  });

  it("uses the head's defaultBsaM2 when height or weight is missing", () => {
    const f = features([{ name: 'lvedvi' }, { name: 'lv_mass_i' }], makeContext({ patientSizeM: 1.8 }));
    assert.ok(Math.abs(f.raw[0]! - 0.064 / 1.8) < 1e-7);
    assert.ok(Math.abs(f.raw[1]! - 0.21 / 1.8) < 1e-7);
  });

  it('pools embeddings over slices at ED and ES, and checks their size', () => {
    const emb = [
      [Float32Array.of(1, 2, 3), Float32Array.of(10, 20, 30)],
      [Float32Array.of(3, 4, 5), Float32Array.of(30, 40, 50)],
    ];
    const f = features([{ name: 'embedding_ed_mean', size: 3 }, { name: 'lvef_pct' }, { name: 'embedding_es_mean', size: 3 }], undefined, emb);
    assert.deepEqual(Array.from(f.raw), [2, 3, 4, 0, 20, 30, 40]);
    assert.deepEqual(f.names, ['embedding_ed_mean[0]', 'embedding_ed_mean[1]', 'embedding_ed_mean[2]', 'lvef_pct', 'embedding_es_mean[0]', 'embedding_es_mean[1]', 'embedding_es_mean[2]']);
    assert.throws(() => features([{ name: 'embedding_ed_mean', size: 4 }], undefined, emb), /embedding has 3 values, the manifest says 4/);
    assert.throws(() => features([{ name: 'embedding_ed_mean', size: 3 }]), /needs the model's embeddings/);
  });

  it('standardises with the manifest mean and std, in manifest order', () => {
    const { grid, labelMaps } = handStudy();
    const manifest = makeManifest([{ name: 'rvef_pct' }, { name: 'rv_lv_edv_ratio' }, { name: 'lvef_pct' }]);
    const head = { ...manifest.diagnosis.studyHead, mean: [50, 1, 3], std: [5, 0.25, 0] };
    const m = measureStudy({ grid, labelMaps, manifest, context: makeContext(), knownPhases: { ed: 0, es: 1 } });
    const f = computeStudyFeatures({ areasMm2: m.areasMm2, slabsMm: m.slabsMm, labels: m.labels, phases: m.phases, labelMaps }, head);
    // (60 − 50)/5 = 2; (1.25 − 1)/0.25 = 1; std 0 leaves the centred value: 0 − 3 = −3.
    assert.deepEqual(Array.from(f.standardised), [2, 1, -3]);
  });

  it('rejects a feature outside the vocabulary, naming it', () => {
    assert.throws(() => features([{ name: 'lvef_pct' }, { name: 'lv_wall_motion' }]), /study feature 'lv_wall_motion'/);
    assert.throws(() => features([{ name: 'lvef_pct', size: 2 }]), /'lvef_pct' is a scalar/);
  });

  it("computes every feature the bundled model's study head lists", (t) => {
    if (!existsSync(bundledManifest)) {
      t.skip(`no bundled manifest yet at ${bundledManifest}`);
      return;
    }
    const manifest = loadManifest(bundledManifest);
    const { grid, labelMaps } = handStudy();
    const m = measureStudy({ grid, labelMaps, manifest, context: makeContext(), knownPhases: { ed: 0, es: 1 } });
    const embeddingSize = manifest.diagnosis.studyHead.features.find((f) => f.name.startsWith('embedding_'))?.size ?? 0;
    const embeddings = labelMaps.map((row) => row.map(() => new Float32Array(embeddingSize).fill(0.5)));
    const f = computeStudyFeatures({ areasMm2: m.areasMm2, slabsMm: m.slabsMm, labels: m.labels, phases: m.phases, labelMaps, embeddings }, manifest.diagnosis.studyHead);
    assert.equal(f.standardised.length, manifest.diagnosis.studyHead.mean.length);
    assert.ok(f.standardised.every(Number.isFinite));
  });
});
