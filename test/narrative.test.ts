import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { buildNarrative, certaintyPhrase, diagnosisFromLogits, DISCLAIMER, formatMeasurement, roundMeasurement } from '../src/analysis/index.js';
import { flagMeasurement, patientAgeYears, patientSexCode, referenceRange, REFERENCE_RANGES, type ReferenceRange } from '../src/analysis/normal-ranges.js';
import { makeManifest } from './analysis-fixtures.js';

const manifest = makeManifest();
const groups = manifest.diagnosis.groups;
const CORE = ['lvedv_ml', 'lvesv_ml', 'lvsv_ml', 'lvef_pct', 'lv_mass_g', 'rvedv_ml', 'rvesv_ml', 'rvef_pct'];
const INDEXED = ['lvedvi_ml_m2', 'lvesvi_ml_m2', 'lvsvi_ml_m2', 'lv_mass_i_g_m2', 'rvedvi_ml_m2', 'rvesvi_ml_m2', 'bsa_m2'];

const value = fc.double({ min: -60, max: 900, noNaN: true, noDefaultInfinity: true });
const measurementsArb = fc
  .record({ core: fc.array(value, { minLength: CORE.length, maxLength: CORE.length }), indexed: fc.option(fc.array(value, { minLength: INDEXED.length, maxLength: INDEXED.length })) })
  .map(({ core, indexed }) => {
    const m: Record<string, number> = {};
    CORE.forEach((k, i) => (m[k] = roundMeasurement(k, core[i]!)));
    if (indexed) INDEXED.forEach((k, i) => (m[k] = roundMeasurement(k, k === 'bsa_m2' ? Math.abs(indexed[i]!) / 100 + 0.5 : indexed[i]!)));
    return m;
  });
const logitsArb = fc.array(fc.double({ min: -8, max: 8, noNaN: true }), { minLength: groups.length, maxLength: groups.length });

/** Every number in the text (with its sign), as printed. */
function numbersIn(text: string): string[] {
  return text.match(/-?\d+(?:\.\d+)?/g) ?? [];
}

describe('narrative', () => {
  it('prints no number that is not a measurement as formatted in the result (property)', () => {
    fc.assert(
      fc.property(measurementsArb, logitsArb, fc.constantFrom(undefined, 'M' as const, 'F' as const), (measurements, logits, sex) => {
        const diagnosis = diagnosisFromLogits(logits, manifest.diagnosis);
        const narrative = buildNarrative({ measurements, diagnosis, groups, ...(sex ? { patientSex: sex } : {}) });
        const allowed = new Set(Object.entries(measurements).map(([k, v]) => formatMeasurement(k, v)));
        for (const n of numbersIn(narrative.text)) assert.ok(allowed.has(n), `"${n}" is not a measurement value in: ${narrative.text}`);
        // ...and every measurement is reported.
        for (const [k, v] of Object.entries(measurements)) assert.ok(narrative.text.includes(formatMeasurement(k, v)), `${k} missing`);
        assert.ok(narrative.text.endsWith(DISCLAIMER));
        assert.equal(narrative.text, `${narrative.findings}\n${narrative.impression}\n${narrative.disclaimer}`);
      }),
      { numRuns: 300, seed: 20261124 },
    );
  });

  it('never words the diagnosis more confidently than its probability (property)', () => {
    fc.assert(
      fc.property(measurementsArb, logitsArb, fc.double({ min: 0.2, max: 5, noNaN: true }), (measurements, logits, temperature) => {
        const m = makeManifest([{ name: 'lvef_pct' }], temperature);
        const diagnosis = diagnosisFromLogits(logits, m.diagnosis);
        const { impression } = buildNarrative({ measurements, diagnosis, groups });
        const p = diagnosis.probabilities[diagnosis.label]!;
        const phrase = certaintyPhrase(p);
        assert.ok(impression.includes(phrase), `${phrase} for p = ${p}: ${impression}`);
        for (const stronger of ['consistent with', 'suggestive of', 'possibly representing']) {
          if (stronger !== phrase) assert.ok(!impression.includes(stronger), `"${stronger}" for p = ${p}`);
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  });

  it('maps probabilities to certainty wording at the documented thresholds', () => {
    assert.equal(certaintyPhrase(1), 'consistent with');
    assert.equal(certaintyPhrase(0.9), 'consistent with');
    assert.equal(certaintyPhrase(0.899), 'suggestive of');
    assert.equal(certaintyPhrase(0.7), 'suggestive of');
    assert.equal(certaintyPhrase(0.699), 'possibly representing');
    assert.equal(certaintyPhrase(0.5), 'possibly representing');
    assert.equal(certaintyPhrase(0.499), 'indeterminate; differential includes');
  });

  it('lists the most probable groups as the differential when indeterminate', () => {
    const measurements = { lvedv_ml: 150, lvesv_ml: 60, lvsv_ml: 90, lvef_pct: 60, lv_mass_g: 110, rvedv_ml: 160, rvesv_ml: 64, rvef_pct: 60 };
    const { impression } = buildNarrative({
      measurements,
      diagnosis: { label: 'DCM', probabilities: { NOR: 0.05, DCM: 0.45, HCM: 0.02, MINF: 0.4, RV: 0.08 } },
      groups,
    });
    assert.equal(
      impression,
      'Impression: Automated classification: indeterminate; differential includes dilated cardiomyopathy (DCM), previous myocardial infarction (MINF) and abnormal right ventricle (RV).',
    );
  });

  it('flags values against the reference table without printing its limits', () => {
    const base = { lvesv_ml: 60, lvsv_ml: 90, lv_mass_g: 110, rvedv_ml: 160, rvesv_ml: 72, rvef_pct: 60 };
    const diagnosis = { label: 'NOR', probabilities: { NOR: 0.95, DCM: 0.02, HCM: 0.01, MINF: 0.01, RV: 0.01 } };
    // PatientSex unknown: the union of the men's (106-214 ml, 57-77 %) and women's (86-178 ml, 57-77 %) ranges.
    const low = buildNarrative({ measurements: { ...base, lvedv_ml: 85.9, lvef_pct: 56.9 }, diagnosis, groups });
    assert.match(low.findings, /end-diastolic volume 85\.9 ml \(below the reference range\)/);
    assert.match(low.findings, /ejection fraction 56\.9 % \(below the reference range\)/);
    assert.match(low.impression, /LV end-diastolic volume below the reference range and LV ejection fraction below the reference range\./);
    assert.match(low.findings, /either sex \(PatientSex is not recorded/);
    const edge = buildNarrative({ measurements: { ...base, lvedv_ml: 214, lvef_pct: 57 }, diagnosis, groups });
    assert.match(edge.findings, /end-diastolic volume 214\.0 ml \(within the reference range\)/);
    assert.match(edge.findings, /ejection fraction 57\.0 % \(within the reference range\)/);
    assert.match(edge.impression, /^Impression: Automated classification: findings consistent with normal cardiac anatomy and function \(NOR\)\.$/);
    const high = buildNarrative({ measurements: { ...base, lvedv_ml: 214.1, lvef_pct: 77.1 }, diagnosis, groups });
    assert.match(high.findings, /214\.1 ml \(above the reference range\).*77\.1 % \(above the reference range\)/);
    // Range limits appear nowhere unless they happen to be measurements.
    const printed = new Set(numbersIn(low.text));
    const values = new Set(Object.values({ ...base, lvedv_ml: 85.9, lvef_pct: 56.9 }).map((v) => v.toFixed(1)));
    for (const range of REFERENCE_RANGES) {
      for (const limit of [range.low, range.high]) {
        if (limit === undefined || values.has(limit.toFixed(1))) continue;
        assert.ok(!printed.has(String(limit)) && !printed.has(limit.toFixed(1)), `limit ${limit} printed`);
      }
    }
    assert.match(low.findings, /Indexed values are not given/);
  });

  it('flags an LV mass index of 86 g/m² for a woman, names the range population, and the wall-thickness segment', () => {
    const measurements = {
      lvedv_ml: 150, lvesv_ml: 60, lvsv_ml: 90, lvef_pct: 60, lv_mass_g: 150, rvedv_ml: 140, rvesv_ml: 60, rvef_pct: 57.1,
      lvedvi_ml_m2: 86.2, lvesvi_ml_m2: 34.5, lvsvi_ml_m2: 51.7, lv_mass_i_g_m2: 86, rvedvi_ml_m2: 80.5, rvesvi_ml_m2: 34.5, bsa_m2: 1.74,
      lv_max_wall_thickness_mm: 17.5,
    };
    const diagnosis = { label: 'HCM', probabilities: { NOR: 0.1, DCM: 0.02, HCM: 0.8, MINF: 0.04, RV: 0.04 } };
    const n = buildNarrative({ measurements, diagnosis, groups, patientSex: 'F', wallThicknessSegment: 'mid inferoseptal' });
    assert.match(n.findings, /LV mass index 86\.0 g\/m² \(above the reference range\)/);
    assert.match(n.findings, /maximal end-diastolic wall thickness 17\.5 mm in the mid inferoseptal segment \(above the reference range\)/);
    assert.match(n.findings, /Flags use published adult reference ranges for women\./);
    assert.match(n.impression, /LV mass index above the reference range/);
    assert.match(n.impression, /maximal LV wall thickness above the reference range/);
    assert.match(n.impression, /suggestive of hypertrophic cardiomyopathy/);
    // A child gets no flags: the ranges are for adults.
    const child = buildNarrative({ measurements, diagnosis, groups, patientSex: 'F', patientAgeYears: 12 });
    assert.doesNotMatch(child.text, /reference range\)/);
    assert.match(child.findings, /not flagged: the reference ranges are for adults/);
  });

  it('names a group by its code name when its description holds digits', () => {
    const odd = groups.map((g) => (g.name === 'MINF' ? { ...g, description: 'Infarction older than 6 weeks' } : g));
    const { impression } = buildNarrative({
      measurements: { lvedv_ml: 150, lvesv_ml: 60, lvsv_ml: 90, lvef_pct: 60, lv_mass_g: 110, rvedv_ml: 160, rvesv_ml: 72, rvef_pct: 55 },
      diagnosis: { label: 'MINF', probabilities: { NOR: 0.01, DCM: 0.01, HCM: 0.01, MINF: 0.96, RV: 0.01 } },
      groups: odd,
    });
    assert.equal(impression, 'Impression: Automated classification: findings consistent with MINF.');
  });

  it('prefers a sex-specific range when PatientSex is known and the table has one', () => {
    const table: ReferenceRange[] = [
      { key: 'lvedv_ml', low: 50, high: 200, source: 'test', checked: 'primary' },
      { key: 'lvedv_ml', sex: 'F', low: 60, high: 150, source: 'test', checked: 'primary' },
      { key: 'lvedv_ml', sex: 'F', ageMin: 60, low: 55, high: 140, source: 'test', checked: 'primary' },
      { key: 'rvedv_ml', sex: 'M', low: 100, high: 220, source: 'test', checked: 'primary' },
      { key: 'rvedv_ml', sex: 'F', low: 80, high: 180, source: 'test', checked: 'primary' },
    ];
    assert.equal(flagMeasurement('lvedv_ml', 170, { sex: 'F' }, table), 'HIGH');
    assert.equal(flagMeasurement('lvedv_ml', 145, { sex: 'F', ageYears: 70 }, table), 'HIGH');
    assert.equal(flagMeasurement('lvedv_ml', 145, { sex: 'F', ageYears: 40 }, table), 'NORMAL');
    assert.equal(flagMeasurement('lvedv_ml', 170, { sex: 'M' }, table), 'NORMAL');
    assert.equal(flagMeasurement('lvedv_ml', 170, {}, table), 'NORMAL');
    // PatientSex unknown, sex-specific rows only: the union of both (80-220), flagged only outside both.
    const fallback = referenceRange('rvedv_ml', {}, table);
    assert.deepEqual([fallback?.low, fallback?.high, fallback?.sexNeutralFallback], [80, 220, true]);
    assert.equal(flagMeasurement('rvedv_ml', 200, {}, table), 'NORMAL');
    assert.equal(flagMeasurement('rvedv_ml', 200, { sex: 'F' }, table), 'HIGH');
    assert.equal(flagMeasurement('rvedv_ml', 79.9, {}, table), 'LOW');
    assert.equal(flagMeasurement('lv_mass_g', 170, { sex: 'F' }, table), undefined);
    assert.equal(flagMeasurement('rvedv_ml', 300, { sex: 'F', ageYears: 10 }, table), undefined);
    assert.equal(patientAgeYears('045Y'), 45);
    assert.equal(patientAgeYears('006M'), 0.5);
    assert.equal(patientAgeYears('45'), undefined);
    assert.equal(patientSexCode(' f '), 'F');
    assert.equal(patientSexCode('O'), undefined);
    assert.equal(patientSexCode(undefined), undefined);
  });
});
