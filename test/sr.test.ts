import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSegmentation, segmentationReference, segmentationUids } from '../src/dicom/seg/sop.js';
import { buildMeasurementReport, measurementReportUids, REVIEW_STATEMENT, type MeasurementReportInput } from '../src/dicom/sr/sop.js';
import { readPart10 } from '../src/dicom/modules/part10.js';
import { algorithmDeviceUid } from '../src/dicom/modules/equipment.js';
import { buildFixture, DIAGNOSIS_GROUPS, fixtureResult, SEGMENTS } from './seg-sr-fixtures.js';
import { dciodvfy, dsrdump, pixelmedSrValidator } from './support/validators.js';

const algorithm = { name: 'pulse-lite', version: '1.0.0', calibration: null };
const AT = new Date(Date.UTC(2024, 0, 2, 12, 0, 0));
const fixture = buildFixture();
const result = fixtureResult(fixture);
const seg = buildSegmentation({
  context: fixture.context,
  labelMaps: fixture.labelMaps,
  phases: [result.phases.ed, result.phases.es],
  segments: SEGMENTS,
  algorithm,
  ...segmentationUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm),
  contentDateTime: AT,
});
const narrative = { findings: 'LVEF 59.4 % (NORMAL); LV EDV 152.3 ml (NORMAL).', impression: 'Normal cardiac anatomy and function (probability 0.87).', disclaimer: 'Automated result.' };

function input(overrides: Partial<MeasurementReportInput> = {}): MeasurementReportInput {
  return {
    context: fixture.context,
    result,
    narrative,
    segments: SEGMENTS,
    diagnosisGroups: DIAGNOSIS_GROUPS,
    segmentation: segmentationReference(seg),
    sourceImages: fixture.labelMaps.flatMap((row) => [row[result.phases.ed]!.image, row[result.phases.es]!.image]),
    algorithm,
    ...measurementReportUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm),
    contentDateTime: AT,
    ...overrides,
  };
}

/** Depth-first walk over a naturalized content tree. */
function* walk(items: any[] | undefined, path: string[] = []): Generator<{ item: any; path: string[] }> {
  for (const item of items ?? []) {
    const name = item.ConceptNameCodeSequence?.[0]?.CodeMeaning ?? '';
    yield { item, path: [...path, name] };
    yield* walk(item.ContentSequence, [...path, name]);
  }
}

describe('TID 1500 measurement report', () => {
  const sr = buildMeasurementReport(input());

  test('dciodvfy finds no error', () => {
    const report = dciodvfy(sr.bytes);
    assert.deepEqual(report.errors, [], report.output);
    assert.deepEqual(report.warnings.filter((w) => !/Device UID|Standard Extended SOP Class/.test(w)), [], report.output);
  });

  test('PixelMed DicomSRValidator: no errors; warnings only for the items its TID 1420 cannot match (docs/dicom-outputs.md)', () => {
    const report = pixelmedSrValidator(sr.bytes);
    assert.match(report.output, /Found Root Template TID_1500/);
    assert.deepEqual(report.errors, [], report.output);
    // PixelMed's TID 1420 row 1 wants concept names from CID 7465, which its build does not define, so
    // every NUM in Derived Imaging Measurements (and its modifiers) is "not in template"; so is the
    // probability under the qualitative diagnosis. Warnings anywhere else are real.
    const expected = /^Warning: [\d.]+: \/CONTAINER \(126000,DCM,"Imaging Measurement Report"\)\/(CONTAINER \(126011,DCM,"Derived Imaging Measurements"\)\/NUM [^/]+(\/(CODE \(363698007,SCT,"Finding Site"\)|TEXT \(121050,DCM,"Equivalent Meaning of Concept Name"\)|CODE \(121402,DCM,"Normality"\)|NUM \((385524004|371933006),SCT,"Normal Range (Lower|Upper) Limit"\)|TEXT \((121407|121408),DCM,"Normal Range (description|Authority)"\)))?|CONTAINER \(C0034375,UMLS,"Qualitative Evaluations"\)\/CODE \(121071,DCM,"Finding"\)\/NUM \(111012,DCM,"Certainty of Finding"\)): Content Item not in template$/;
    assert.deepEqual(report.warnings.filter((w) => !expected.test(w)), [], report.output);
    // 10 NUMs, the stroke volume's Finding Site, 2 Equivalent Meanings, the Certainty of Finding, and
    // under each NUM with a range: Normality, its limits, description and authority (TID 310/312).
    const rangeItems = Object.values(result.reference_ranges ?? {}).reduce((n, r) => n + 3 + (r.low !== undefined ? 1 : 0) + (r.high !== undefined ? 1 : 0), 0);
    assert.ok(rangeItems > 0);
    assert.equal(report.warnings.length, 14 + rangeItems, report.output);
  });

  test('each measurement with a reference range carries its Normality, limits, description and authority (TID 310/312)', () => {
    const ds = readPart10(sr.bytes);
    const derived = ds.ContentSequence.find((c: any) => c.ConceptNameCodeSequence?.[0]?.CodeValue === '126011');
    const edv = derived.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === '8821-1' && c.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue === 'ml');
    const child = (code: string): any => edv.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === code);
    const range = result.reference_ranges!.lvedv_ml!;
    assert.equal(child('121402').ConceptCodeSequence[0].CodeValue, range.flag === 'NORMAL' ? '17621005' : range.flag === 'HIGH' ? '371879000' : '371880002');
    assert.equal(Number(child('385524004').MeasuredValueSequence[0].NumericValue), range.low);
    assert.equal(Number(child('371933006').MeasuredValueSequence[0].NumericValue), range.high);
    assert.equal(child('121407').TextValue, 'Reference range for adult women');
    assert.equal(child('121408').TextValue, range.source);
  });

  test('Imaging Measurements holds only the TID 1411 groups; every number is also a plain NUM in Derived Imaging Measurements', () => {
    const ds = readPart10(sr.bytes);
    const top = (code: string): any => ds.ContentSequence.find((c: any) => c.ConceptNameCodeSequence?.[0]?.CodeValue === code);
    const imaging = top('126010');
    assert.ok(imaging.ContentSequence.length > 0);
    for (const group of imaging.ContentSequence) {
      assert.equal(group.ContentTemplateSequence[0].TemplateIdentifier, '1411');
      assert.ok(group.ContentSequence.some((c: any) => c.ConceptNameCodeSequence[0].CodeValue === '121191'), 'every group references a segment');
    }
    const derived = top('126011');
    assert.ok(derived.ContentSequence.every((c: any) => c.ValueType === 'NUM' && c.RelationshipType === 'CONTAINS'));
    const values = derived.ContentSequence.map((c: any) => Number(c.MeasuredValueSequence[0].NumericValue));
    assert.equal(values.length, sr.writtenMeasurements.length);
    for (const key of sr.writtenMeasurements) assert.ok(values.includes(result.measurements[key]), `${key} in Derived Imaging Measurements`);
    const finding = top('C0034375').ContentSequence.find((c: any) => c.ValueType === 'CODE');
    assert.equal(finding.ConceptCodeSequence[0].CodeValue, '17621005');
    const certainty = finding.ContentSequence[0];
    assert.equal(certainty.ConceptNameCodeSequence[0].CodeValue, '111012');
    assert.equal(certainty.RelationshipType, 'HAS PROPERTIES');
    assert.equal(Number(certainty.MeasuredValueSequence[0].NumericValue), 0.87);
  });

  test('dsrdump renders every number of the result, with its unit', () => {
    const text = dsrdump(sr.bytes);
    const rendered = [...text.matchAll(/<contains NUM:\(([^,]+),(\w+),"([^"]+)"\)="([^"]+)" \(([^,]+),UCUM,/g)].map((m) => ({ code: m[1], value: Number(m[4]), unit: m[5] }));
    for (const key of ['lvedv_ml', 'lvesv_ml', 'lvsv_ml', 'lvef_pct', 'lv_mass_g', 'rvedv_ml', 'rvesv_ml', 'rvef_pct', 'lvedvi_ml_m2', 'lv_mass_i_g_m2']) {
      assert.ok(sr.writtenMeasurements.includes(key), `${key} written`);
      assert.ok(rendered.some((r) => r.value === result.measurements[key]), `${key} = ${result.measurements[key]} is rendered`);
    }
    const unitOf = (code: string, unit: string): boolean => rendered.some((r) => r.code === code && r.unit === unit);
    assert.ok(unitOf('8821-1', 'ml') && unitOf('8821-1', 'ml/m2') && unitOf('18087-7', 'g') && unitOf('8811-2', '%'));
    assert.match(text, /Certainty of Finding"\)="0\.87" \(\{ratio\}/);
    assert.match(text, /Completion Flag\s+: COMPLETE/);
    assert.match(text, /Verification Flag\s+: UNVERIFIED/);
    assert.match(text, /"Finding"\)=\(17621005,SCT,"Normal"\)/);
    assert.ok(text.includes('(25056-3,LN,"MRI unspecified body region")'));
  });

  test('narrative, review statement and observer are in the tree', () => {
    const ds = readPart10(sr.bytes);
    const items = [...walk(ds.ContentSequence)];
    const texts = items.filter(({ item }) => item.ValueType === 'TEXT').map(({ item }) => item.TextValue as string);
    assert.ok(texts.includes(narrative.findings));
    assert.ok(texts.includes(narrative.impression));
    assert.ok(texts.some((t) => t.includes(REVIEW_STATEMENT)));
    const observerUid = items.find(({ item }) => item.ConceptNameCodeSequence?.[0]?.CodeValue === '121012')!.item.UID;
    assert.equal(observerUid, algorithmDeviceUid(algorithm));
    assert.equal(ds.ContributingEquipmentSequence[0].DeviceUID, observerUid);
  });

  test('volumetric groups reference the SEG segments: LV, myocardium and RV at ED and ES', () => {
    const ds = readPart10(sr.bytes);
    const groups = [...walk(ds.ContentSequence)].filter(({ item }) => item.ConceptNameCodeSequence?.[0]?.CodeValue === '125007').map(({ item }) => item);
    const label = (g: any): string => g.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === '112039').TextValue;
    const expected: Record<string, [string, string, number]> = {
      'LV cavity at ED': ['lv', '8821-1', result.measurements.lvedv_ml],
      'LV cavity at ES': ['lv', '8823-7', result.measurements.lvesv_ml],
      'LV myocardium at ED': ['myo', '18087-7', result.measurements.lv_mass_g],
      'RV cavity at ED': ['rv', '8822-9', result.measurements.rvedv_ml],
      'RV cavity at ES': ['rv', '8824-5', result.measurements.rvesv_ml],
    };
    for (const [name, [key, code, value]] of Object.entries(expected)) {
      const group = groups.find((g) => label(g) === name);
      assert.ok(group, `${name} group present`);
      const ref = group.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === '121191').ReferencedSOPSequence[0];
      assert.equal(ref.ReferencedSOPClassUID, '1.2.840.10008.5.1.4.1.1.66.4');
      assert.equal(ref.ReferencedSOPInstanceUID, seg.sopInstanceUID);
      assert.equal(ref.ReferencedSegmentNumber, seg.segmentNumbers[key]);
      const num = group.ContentSequence.find((c: any) => c.ValueType === 'NUM');
      assert.equal(num.ConceptNameCodeSequence[0].CodeValue, code);
      assert.equal(Number(num.MeasuredValueSequence[0].NumericValue), value);
    }
    const trackingUids = groups.map((g) => g.ContentSequence.find((c: any) => c.ConceptNameCodeSequence[0].CodeValue === '112040').UID);
    assert.equal(new Set(trackingUids).size, trackingUids.length, 'tracking UIDs are unique');
  });

  test('evidence lists the source images and the SEG', () => {
    const ds = readPart10(sr.bytes);
    const evidence = ds.CurrentRequestedProcedureEvidenceSequence[0];
    assert.equal(evidence.StudyInstanceUID, fixture.context.studyInstanceUID);
    const sops = evidence.ReferencedSeriesSequence.flatMap((s: any) => s.ReferencedSOPSequence.map((r: any) => r.ReferencedSOPInstanceUID));
    assert.ok(sops.includes(seg.sopInstanceUID));
    assert.equal(sops.length, fixture.grid.slices * 2 + 1);
    assert.equal(ds.CompletionFlag, 'COMPLETE');
    assert.equal(ds.VerificationFlag, 'UNVERIFIED');
    assert.match(ds.SeriesDescription, /automated/i);
  });

  test('indexed values are left out when the result has none; echo uses SNOMED EF with a finding site', () => {
    const bare = fixtureResult(fixture);
    delete (bare.measurements as Record<string, number>).lvedvi_ml_m2;
    delete (bare.measurements as Record<string, number>).lv_mass_i_g_m2;
    const us = buildMeasurementReport(input({ result: bare, context: { ...fixture.context, modality: 'US' } }));
    assert.deepEqual(us.writtenMeasurements, ['lvedv_ml', 'lvesv_ml', 'lvsv_ml', 'lvef_pct', 'lv_mass_g', 'rvedv_ml', 'rvesv_ml', 'rvef_pct']);
    const text = dsrdump(us.bytes);
    assert.match(text, /NUM:\(70822001,SCT,"Cardiac ejection fraction"\)="59\.4"[^\n]*\n\s*<has concept mod CODE:\(363698007,SCT,"Finding Site"\)=\(87878005,SCT,"Left Ventricle"\)/);
  });

  test('the same inputs give the same bytes', () => {
    assert.deepEqual(buildMeasurementReport(input()).bytes, sr.bytes);
  });

  describe('rejects invalid input, naming the argument', () => {
    const cases: Array<[string, Partial<MeasurementReportInput>, RegExp]> = [
      ['unknown diagnosis group', { diagnosisGroups: [DIAGNOSIS_GROUPS[1]!] }, /diagnosisGroups has no group named 'NOR'/],
      ['empty narrative part', { narrative: { ...narrative, impression: ' ' } }, /narrative\.impression must not be empty/],
      ['no source images', { sourceImages: [] }, /sourceImages must list at least one image/],
      ['bad SEG UID', { segmentation: { ...segmentationReference(seg), sopInstanceUID: 'x' as never } }, /segmentation\.sopInstanceUID is not a valid UID/],
      ['SR series equal to the SEG series', { seriesInstanceUID: seg.seriesInstanceUID }, /must be a new series/],
      ['missing required measurement', { result: { ...result, measurements: { ...result.measurements, lvef_pct: undefined as never } } }, /lvef_pct/],
      ['probability outside 0..1', { result: { ...result, diagnosis: { label: 'NOR', probabilities: { NOR: 1.5 } } } }, /probability in 0\.\.1/],
      ['result of another study', { result: { ...result, studyInstanceUID: '1.2.3' } }, /result\.studyInstanceUID differs/],
    ];
    for (const [name, overrides, message] of cases) {
      test(name, () => assert.throws(() => buildMeasurementReport(input(overrides)), message));
    }
  });
});
