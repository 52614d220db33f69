/**
 * The measurement conventions one by one (docs/study-features.md): slabs, ED/ES from the volume
 * curve, phase distances, BSA, rounding, units. Added where mutation testing (docs/testing.md)
 * showed rules no test pinned down.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bsaMosteller,
  cyclicPhaseDistance,
  edEsFromCurve,
  edTimingTolerancePhases,
  formatMeasurement,
  MEASUREMENT_UNITS,
  roundMeasurement,
  roundTo,
  slabThicknessesMm,
} from '../src/analysis/conventions.js';

test('slabs: centre distances, SliceThickness only for a single slice, refused when positions repeat', () => {
  assert.deepEqual(slabThicknessesMm([0, 10, 30]), [10, 15, 20]);
  assert.deepEqual(slabThicknessesMm([5], 8), [8]);
  assert.throws(() => slabThicknessesMm([]), /the stack has no slices/);
  for (const thickness of [undefined, 0, -1, Number.NaN]) assert.throws(() => slabThicknessesMm([5], thickness), /single-slice stack needs SliceThickness/, String(thickness));
  assert.throws(() => slabThicknessesMm([0, 10, 10, 20]), /slices 1 and 2 share a position/);
});

test('ED is the largest LV volume and ES the smallest, the first one on ties; an empty curve is refused', () => {
  assert.deepEqual(edEsFromCurve([100, 120, 60, 50, 90]), { ed: 1, es: 3 });
  assert.deepEqual(edEsFromCurve([100, 100, 50, 50]), { ed: 0, es: 2 });
  assert.deepEqual(edEsFromCurve([80, 90, 100]), { ed: 2, es: 0 }, 'the last phase counts too');
  assert.deepEqual(edEsFromCurve([70]), { ed: 0, es: 0 });
  assert.throws(() => edEsFromCurve([]), /the LV volume curve is empty/);
});

test('phase distances wrap around the cycle; ED may sit 10 % of the phases (at least one) from the first', () => {
  assert.equal(cyclicPhaseDistance(1, 19, 20), 2);
  assert.equal(cyclicPhaseDistance(19, 1, 20), 2);
  assert.equal(cyclicPhaseDistance(3, 13, 20), 10);
  assert.equal(cyclicPhaseDistance(5, 5, 20), 0);
  assert.equal(cyclicPhaseDistance(2, 5, 20), 3);
  assert.deepEqual([5, 10, 14, 15, 25, 30].map(edTimingTolerancePhases), [1, 1, 1, 2, 3, 3]);
});

test('BSA (Mosteller) needs a positive height and weight', () => {
  assert.ok(Math.abs(bsaMosteller(1.8, 80) - 2) < 1e-12);
  for (const [h, w] of [[0, 80], [1.8, 0], [-1, 80], [1.8, Number.NaN]] as const) assert.throws(() => bsaMosteller(h, w), /BSA needs a positive PatientSize/, `${h} ${w}`);
});

test('rounding is half away from zero, never -0; BSA keeps two decimals, the rest one', () => {
  assert.deepEqual([2.25, -2.25, 2.24, -0.04, 0.05].map((v) => roundTo(v, 1)), [2.3, -2.3, 2.2, 0, 0.1]);
  assert.ok(Object.is(roundTo(-0.04, 1), 0), 'not -0');
  assert.throws(() => roundTo(Number.POSITIVE_INFINITY, 1), /cannot round a non-finite value \(Infinity\)/);
  assert.equal(roundMeasurement('bsa_m2', 1.8765), 1.88);
  assert.equal(roundMeasurement('lvef_pct', 55.55), 55.6);
  assert.equal(formatMeasurement('lvedv_ml', 120), '120.0');
  assert.equal(formatMeasurement('bsa_m2', 2), '2.00');
});

test('every reported measurement has its unit', () => {
  assert.deepEqual(MEASUREMENT_UNITS, {
    lvedv_ml: 'ml', lvesv_ml: 'ml', lvsv_ml: 'ml', lvef_pct: '%', lv_mass_g: 'g', rvedv_ml: 'ml', rvesv_ml: 'ml', rvef_pct: '%',
    lvedvi_ml_m2: 'ml/m2', lvesvi_ml_m2: 'ml/m2', lvsvi_ml_m2: 'ml/m2', lv_mass_i_g_m2: 'g/m2', rvedvi_ml_m2: 'ml/m2', rvesvi_ml_m2: 'ml/m2',
    bsa_m2: 'm2', lv_max_wall_thickness_mm: 'mm',
  });
});
