import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { measureStudy } from '../src/analysis/index.js';
import { bsaMosteller, ejectionFractionPct, edEsFromCurve, myocardialMassG, slabThicknessesMm } from '../src/analysis/conventions.js';
import { BadInputError } from '../src/core/errors.js';
import { maximalWallThickness } from '../src/analysis/wall-thickness.js';
import { block, LV, makeContext, makeManifest, makeStudy, MYO, paint, RV, type ImageSpec } from './analysis-fixtures.js';

const close = (actual: number, expected: number, what: string) => assert.ok(Math.abs(actual - expected) < 1e-9, `${what}: ${actual} != ${expected}`);

// Four slices with gaps of 10, 15 and 10 mm (slabs 10, 12.5, 12.5, 10 mm); slice 2 has its own grid
// (20x20 at 2 mm) while the others are 16x16 at 1.5 x 1.25 mm. SliceThickness 8 must be ignored.
const positions = [-5, 5, 20, 30];
const specs: ImageSpec[] = [
  { rows: 16, columns: 16, pixelSpacing: [1.5, 1.25], sliceThickness: 8 },
  { rows: 16, columns: 16, pixelSpacing: [1.5, 1.25], sliceThickness: 8 },
  { rows: 20, columns: 20, pixelSpacing: [2, 2], sliceThickness: 8 },
  { rows: 16, columns: 16, pixelSpacing: [1.5, 1.25], sliceThickness: 8 },
];
// Pixel counts [slice][phase].
const lvCounts = [[40, 20, 30], [60, 30, 50], [30, 10, 20], [10, 4, 8]];
const myoCounts = [[30, 31, 30], [40, 41, 40], [25, 26, 25], [0, 0, 0]];
const rvCounts = [[0, 0, 0], [50, 20, 30], [40, 20, 30], [20, 10, 15]];

function irregularStudy() {
  return makeStudy(positions, 3, specs, (s, t, labels, spec) => {
    const c = spec.columns;
    paint(labels, c, block(lvCounts[s]![t]!, c, 0), LV);
    paint(labels, c, block(myoCounts[s]![t]!, c, 5), MYO);
    paint(labels, c, block(rvCounts[s]![t]!, c, 9), RV);
  });
}

describe('measurement conventions', () => {
  it('gives each slice the mean distance to its neighbours, one neighbour at the ends', () => {
    assert.deepEqual(slabThicknessesMm(positions), [10, 12.5, 12.5, 10]);
    assert.deepEqual(slabThicknessesMm([42], 7), [7]);
    assert.throws(() => slabThicknessesMm([42]), /SliceThickness/);
    assert.throws(() => slabThicknessesMm([0, 0]), /share a position/);
  });

  it('computes EF, mass and Mosteller BSA as the literature defines them', () => {
    close(ejectionFractionPct(150, 60), 60, 'EF');
    assert.equal(ejectionFractionPct(0, 0), 0);
    close(myocardialMassG(100), 105, 'mass at 1.05 g/ml');
    close(bsaMosteller(1.8, 80), 2, 'BSA 180 cm, 80 kg');
    close(bsaMosteller(1.7, 65), Math.sqrt((170 * 65) / 3600), 'BSA 170 cm, 65 kg');
  });

  it('finds ED at the largest and ES at the smallest LV volume, earliest on ties', () => {
    assert.deepEqual(edEsFromCurve([120, 130, 90, 60, 60, 100]), { ed: 1, es: 3 });
    assert.deepEqual(edEsFromCurve([5, 5, 5]), { ed: 0, es: 0 });
  });
});

describe('measureStudy', () => {
  it('sums area x slab over slices with gaps and per-slice pixel spacing (analytic volumes)', () => {
    const { grid, labelMaps } = irregularStudy();
    const m = measureStudy({ grid, labelMaps, manifest: makeManifest(), context: makeContext() });
    // By hand: pixel areas 1.875 mm² (slices 0, 1, 3) and 4 mm² (slice 2); slabs 10, 12.5, 12.5, 10 mm.
    const lv = [
      (40 * 1.875 * 10 + 60 * 1.875 * 12.5 + 30 * 4 * 12.5 + 10 * 1.875 * 10) / 1000, // 3.84375
      (20 * 1.875 * 10 + 30 * 1.875 * 12.5 + 10 * 4 * 12.5 + 4 * 1.875 * 10) / 1000, // 1.653125
      (30 * 1.875 * 10 + 50 * 1.875 * 12.5 + 20 * 4 * 12.5 + 8 * 1.875 * 10) / 1000, // 2.884375
    ];
    lv.forEach((v, t) => close(m.volumesMl.lv![t]!, v, `LV volume at phase ${t}`));
    close(lv[0]!, 3.84375, 'hand arithmetic');
    assert.deepEqual(m.phases, { ed: 0, es: 1 });
    const myoEd = (30 * 1.875 * 10 + 40 * 1.875 * 12.5 + 25 * 4 * 12.5) / 1000; // 2.75
    const rvEd = (50 * 1.875 * 12.5 + 40 * 4 * 12.5 + 20 * 1.875 * 10) / 1000; // 3.546875
    const rvEs = (20 * 1.875 * 12.5 + 20 * 4 * 12.5 + 10 * 1.875 * 10) / 1000; // 1.65625
    close(m.exact.lvedv_ml!, 3.84375, 'LVEDV');
    close(m.exact.lvesv_ml!, 1.653125, 'LVESV');
    close(m.exact.lvsv_ml!, 3.84375 - 1.653125, 'LVSV');
    close(m.exact.lvef_pct!, ((3.84375 - 1.653125) / 3.84375) * 100, 'LVEF');
    close(m.exact.lv_mass_g!, myoEd * 1.05, 'LV mass');
    close(m.exact.rvedv_ml!, rvEd, 'RVEDV');
    close(m.exact.rvesv_ml!, rvEs, 'RVESV');
    close(m.exact.rvef_pct!, ((rvEd - rvEs) / rvEd) * 100, 'RVEF');
    // result.json keeps one decimal.
    assert.deepEqual(m.measurements, {
      lvedv_ml: 3.8,
      lvesv_ml: 1.7,
      lvsv_ml: 2.2,
      lvef_pct: 57,
      lv_mass_g: 2.9,
      rvedv_ml: 3.5,
      rvesv_ml: 1.7,
      rvef_pct: 53.3,
    });
  });

  it('gives indexed values only when both PatientSize and PatientWeight are known', () => {
    const { grid, labelMaps } = irregularStudy();
    const manifest = makeManifest();
    for (const context of [makeContext(), makeContext({ patientSizeM: 1.8 }), makeContext({ patientWeightKg: 80 })]) {
      const m = measureStudy({ grid, labelMaps, manifest, context });
      assert.equal(Object.keys(m.measurements).some((k) => k.includes('_m2')), false);
      assert.equal(m.bsaM2, undefined);
    }
    const m = measureStudy({ grid, labelMaps, manifest, context: makeContext({ patientSizeM: 1.8, patientWeightKg: 80 }) });
    close(m.exact.bsa_m2!, 2, 'BSA');
    close(m.exact.lvedvi_ml_m2!, 3.84375 / 2, 'LVEDVi');
    close(m.exact.lvesvi_ml_m2!, 1.653125 / 2, 'LVESVi');
    close(m.exact.lvsvi_ml_m2!, (3.84375 - 1.653125) / 2, 'LVSVi');
    close(m.exact.lv_mass_i_g_m2!, (2.75 * 1.05) / 2, 'LV mass index');
    close(m.exact.rvedvi_ml_m2!, 3.546875 / 2, 'RVEDVi');
    close(m.exact.rvesvi_ml_m2!, 1.65625 / 2, 'RVESVi');
    assert.equal(m.measurements.bsa_m2, 2);
    assert.equal(m.measurements.lvedvi_ml_m2, 1.9);
  });

  it('finds ED/ES over all phases of a cine curve and notes an ED far from the first phase', () => {
    const curve = [200, 198, 190, 170, 140, 110, 90, 80, 85, 100, 120, 140, 150, 155, 160, 165, 170, 175, 180, 185, 188, 190, 192, 195, 197];
    const spec: ImageSpec = { rows: 16, columns: 16, pixelSpacing: [1, 1] };
    const study = (counts: readonly number[]) =>
      makeStudy([0, 10], counts.length, [spec], (_s, t, labels) => paint(labels, 16, block(counts[t]!, 16, 0), LV));
    const manifest = makeManifest();
    const normal = study(curve);
    const m = measureStudy({ ...normal, manifest, context: makeContext() });
    assert.deepEqual(m.phases, { ed: 0, es: 7 });
    assert.deepEqual(m.notes, []);
    // Curve maximum at the last phase: cyclically next to phase 0, no note.
    const late = study([...curve.slice(1), curve[0]!]);
    const mLate = measureStudy({ ...late, manifest, context: makeContext() });
    assert.deepEqual(mLate.phases, { ed: 24, es: 6 });
    assert.deepEqual(mLate.notes, []);
    // Maximum half a cycle away from the trigger: recorded.
    const shifted = study([...curve.slice(13), ...curve.slice(0, 13)]);
    const mShifted = measureStudy({ ...shifted, manifest, context: makeContext() });
    assert.deepEqual(mShifted.phases, { ed: 12, es: 19 });
    assert.equal(mShifted.notes.length, 1);
    assert.match(mShifted.notes[0]!, /ED is phase 12 \(trigger time 480 ms\)/);
  });

  it('uses known ED/ES phases when given (ACDC labels only those frames)', () => {
    const { grid, labelMaps } = irregularStudy();
    const m = measureStudy({ grid, labelMaps, manifest: makeManifest(), context: makeContext(), knownPhases: { ed: 2, es: 1 } });
    assert.deepEqual(m.phases, { ed: 2, es: 1 });
    close(m.exact.lvedv_ml!, 2.884375, 'LVEDV at the known ED');
    assert.throws(
      () => measureStudy({ grid, labelMaps, manifest: makeManifest(), context: makeContext(), knownPhases: { ed: 3, es: 1 } }),
      /known ED phase 3 is outside/,
    );
  });

  it('fails clearly when the manifest lacks a segment key', () => {
    const { grid, labelMaps } = irregularStudy();
    const manifest = makeManifest();
    const noRv = { ...manifest, segments: manifest.segments.filter((s) => s.key !== 'rv') };
    assert.throws(() => measureStudy({ grid, labelMaps, manifest: noRv, context: makeContext() }), /lacks segment key\(s\) 'rv'/);
    const renamed = { ...manifest, segments: manifest.segments.map((s) => (s.key === 'lv' ? { ...s, key: 'lv_cavity' } : s)) };
    assert.throws(() => measureStudy({ grid, labelMaps, manifest: renamed, context: makeContext() }), /lacks segment key\(s\) 'lv'/);
  });

  it('reads label values from the manifest, not from fixed numbers', () => {
    // Same study with LV and RV label values swapped in both the maps and the manifest.
    const swapped = makeStudy(positions, 3, specs, (s, t, labels, spec) => {
      paint(labels, spec.columns, block(lvCounts[s]![t]!, spec.columns, 0), RV);
      paint(labels, spec.columns, block(myoCounts[s]![t]!, spec.columns, 5), MYO);
      paint(labels, spec.columns, block(rvCounts[s]![t]!, spec.columns, 9), LV);
    });
    const manifest = makeManifest();
    const swappedManifest = {
      ...manifest,
      segments: manifest.segments.map((s) => (s.key === 'lv' ? { ...s, labelValue: RV } : s.key === 'rv' ? { ...s, labelValue: LV } : s)),
    };
    const m = measureStudy({ ...swapped, manifest: swappedManifest, context: makeContext() });
    close(m.exact.lvedv_ml!, 3.84375, 'LVEDV');
  });

  it('fails as bad input, naming the study, when slices cannot be given a slab', () => {
    const spec: ImageSpec = { rows: 4, columns: 4, pixelSpacing: [1, 1] };
    const lone = makeStudy([3], 2, [spec], () => undefined);
    assert.throws(
      () => measureStudy({ ...lone, manifest: makeManifest(), context: makeContext() }),
      (e: Error) => e instanceof BadInputError && /single-slice stack needs SliceThickness \(study 2\.25\.1\)/.test(e.message),
    );
    const stacked = makeStudy([3, 3], 2, [spec], () => undefined);
    assert.throws(() => measureStudy({ ...stacked, manifest: makeManifest(), context: makeContext() }), BadInputError);
    const withThickness = makeStudy([3], 2, [{ ...spec, sliceThickness: 6 }], (_s, _t, labels) => labels.fill(LV));
    const m = measureStudy({ ...withThickness, manifest: makeManifest(), context: makeContext() });
    close(m.exact.lvedv_ml!, (16 * 6) / 1000, 'single slice volume');
    assert.match(m.notes.join(' '), /single-slice stack/);
  });

  it('rejects label maps that do not cover the grid', () => {
    const { grid, labelMaps } = irregularStudy();
    assert.throws(() => measureStudy({ grid, labelMaps: labelMaps.slice(1), manifest: makeManifest(), context: makeContext() }), /3 slices of label maps for a grid of 4/);
    const short = labelMaps.map((row, s) => (s === 2 ? row.map((m) => ({ ...m, labels: m.labels.subarray(1) })) : row));
    assert.throws(() => measureStudy({ grid, labelMaps: short, manifest: makeManifest(), context: makeContext() }), /slice 2, phase 0 has 399 values for a 20x20 image/);
  });
});

describe('measureStudy notes, indexed values and known phases', () => {
  const spec: ImageSpec = { rows: 16, columns: 16, pixelSpacing: [1, 1] };
  const manifest = makeManifest();
  /** Two slices, one LV pixel count per phase (the same on both slices). */
  const lvCurveStudy = (counts: readonly number[]) => makeStudy([0, 10], counts.length, [spec], (_s, t, labels) => paint(labels, 16, block(counts[t]!, 16, 0), LV));
  // 25 phases, the largest LV volume at phase 0, the smallest at 7. ED tolerance: round(2.5) = 3 phases.
  const curve = [200, 198, 190, 170, 140, 110, 90, 80, 85, 100, 120, 140, 150, 155, 160, 165, 170, 175, 180, 185, 188, 190, 192, 195, 197];
  const rotated = (k: number) => [...curve.slice(k), ...curve.slice(0, k)]; // maximum moves to phase 25 - k

  it('notes an ED more than 10 % of the cycle from the first phase, and only then', () => {
    const atTolerance = measureStudy({ ...lvCurveStudy(rotated(3)), manifest, context: makeContext() });
    assert.equal(atTolerance.phases.ed, 22);
    assert.deepEqual(atTolerance.notes, [], '3 phases from the first phase is within the tolerance');
    const beyond = measureStudy({ ...lvCurveStudy(rotated(4)), manifest, context: makeContext() });
    assert.equal(beyond.phases.ed, 21);
    assert.deepEqual(beyond.notes, ['volume-curve ED is phase 21 (trigger time 840 ms), 4 phases from the first phase, where ECG-triggered cine expects end-diastole']);
  });

  it('leaves the trigger time out of the ED note when the phase has none', () => {
    const study = lvCurveStudy(rotated(13));
    const grid = { ...study.grid, phaseTimesMs: [] };
    const m = measureStudy({ grid, labelMaps: study.labelMaps, manifest, context: makeContext() });
    assert.deepEqual(m.notes, ['volume-curve ED is phase 12, 12 phases from the first phase, where ECG-triggered cine expects end-diastole']);
  });

  it('makes no ED timing note when ED/ES are known (ACDC labels them), however far ED lies', () => {
    const m = measureStudy({ ...lvCurveStudy(rotated(13)), manifest, context: makeContext(), knownPhases: { ed: 12, es: 19 } });
    assert.deepEqual(m.phases, { ed: 12, es: 19 });
    assert.deepEqual(m.notes, []);
  });

  it('notes an empty LV at ED: volumes and EF are 0, and says nothing else', () => {
    const m = measureStudy({ ...lvCurveStudy([0, 0, 0, 0]), manifest, context: makeContext() });
    assert.deepEqual(m.notes, ['no LV cavity segmented at ED: volumes and EF are 0']);
    assert.equal(m.measurements.lvedv_ml, 0);
    assert.equal(m.measurements.lvef_pct, 0);
  });

  it('notes a flat LV curve (EF 0), also when the known ED and ES differ but hold the same volume', () => {
    const flat = measureStudy({ ...lvCurveStudy([30, 30, 30, 30]), manifest, context: makeContext() });
    assert.deepEqual(flat.phases, { ed: 0, es: 0 });
    assert.deepEqual(flat.notes, ['LV volume does not change over the cycle: EF is 0']);
    assert.equal(flat.measurements.lvef_pct, 0);
    const known = measureStudy({ ...lvCurveStudy([30, 20, 30, 40]), manifest, context: makeContext(), knownPhases: { ed: 0, es: 2 } });
    assert.deepEqual(known.notes, ['LV volume does not change over the cycle: EF is 0']);
    const moving = measureStudy({ ...lvCurveStudy([30, 20, 30, 40]), manifest, context: makeContext(), knownPhases: { ed: 0, es: 1 } });
    assert.deepEqual(moving.notes, []);
  });

  it('indexes by BSA only when both height and weight are positive', () => {
    const { grid, labelMaps } = irregularStudy();
    for (const extra of [{ patientSizeM: 0, patientWeightKg: 80 }, { patientSizeM: 1.8, patientWeightKg: 0 }, { patientSizeM: -1.8, patientWeightKg: -80 }]) {
      const m = measureStudy({ grid, labelMaps, manifest, context: makeContext(extra) });
      assert.equal('bsaM2' in m, false, JSON.stringify(extra));
      assert.deepEqual(Object.keys(m.measurements).filter((k) => k.includes('_m2')), [], JSON.stringify(extra));
    }
    const m = measureStudy({ grid, labelMaps, manifest, context: makeContext({ patientSizeM: 1.8, patientWeightKg: 80 }) });
    assert.equal(m.bsaM2, 2);
  });

  it('refuses known ED/ES phases that are not phases of the grid, naming which', () => {
    const { grid, labelMaps } = irregularStudy(); // 3 phases
    const known = (ed: number, es: number) => () => measureStudy({ grid, labelMaps, manifest, context: makeContext(), knownPhases: { ed, es } });
    assert.throws(known(0, 3), /^Error: analysis: known ES phase 3 is outside the grid's 3 phases$/);
    assert.throws(known(-1, 1), /known ED phase -1 is outside/);
    assert.throws(known(0.5, 1), /known ED phase 0.5 is outside/);
    assert.throws(known(1, Number.NaN), /known ES phase NaN is outside/);
    assert.deepEqual(known(2, 0)().phases, { ed: 2, es: 0 }, 'the last phase is a phase');
  });

  it('gives the maximal wall thickness measured at ED', () => {
    // LV cavity radius 3 px at ED and 2 px at ES (1 mm pixels), myocardium out to radius 6 at ED and 7 at ES.
    const ring = (t: number, labels: Uint8Array) => {
      for (let r = 0; r < 16; r++) {
        for (let c = 0; c < 16; c++) {
          const d = Math.hypot(r - 8, c - 8);
          if (d <= (t === 0 ? 3 : 2)) labels[r * 16 + c] = LV;
          else if (d <= (t === 0 ? 6 : 7)) labels[r * 16 + c] = MYO;
        }
      }
    };
    const study = makeStudy([0, 10], 2, [spec], (_s, t, labels) => ring(t, labels));
    const m = measureStudy({ ...study, manifest, context: makeContext() });
    assert.deepEqual(m.phases, { ed: 0, es: 1 });
    const atEd = maximalWallThickness(study.labelMaps.map((row) => row[0]!), { lv: LV, myo: MYO, rv: RV })!;
    const atEs = maximalWallThickness(study.labelMaps.map((row) => row[1]!), { lv: LV, myo: MYO, rv: RV })!;
    assert.notEqual(atEd.maxMm, atEs.maxMm, 'the fixture tells ED from ES');
    assert.deepEqual(m.wallThickness, atEd);
    assert.equal(m.exact.lv_max_wall_thickness_mm, atEd.maxMm);
    assert.equal(m.measurements.lv_max_wall_thickness_mm, Math.round(atEd.maxMm * 10) / 10);
  });
});
