/**
 * The TID 1500 measurement report builder: content tree, codes, units, references to the SEG,
 * evidence and input checks, read back with dcmjs, plus dciodvfy and dsrdump. No Java here:
 * PixelMed's template check of the same report is in seg-sr-pixelmed.test.ts, so that mutation
 * testing can afford this file.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSegmentation, segmentationReference } from '../src/dicom/seg/sop.js';
import { buildMeasurementReport, rangeDescription, REVIEW_STATEMENT, type MeasurementReportInput } from '../src/dicom/sr/sop.js';
import { numItem, containerItem, textItem, imageItem } from '../src/dicom/sr/content.js';
import { measurementSpecs } from '../src/dicom/sr/measurements.js';
import * as codes from '../src/dicom/codes.js';
import { modelLabel } from '../src/core/model-identity.js';
import type { StudyResult } from '../src/core/result.js';
import { readPart10 } from '../src/dicom/modules/part10.js';
import { algorithmDeviceUid } from '../src/dicom/modules/equipment.js';
import { buildFixture, DIAGNOSIS_GROUPS, FIXTURE_ALGORITHM as algorithm, FIXTURE_NARRATIVE as narrative, fixtureReportInput, fixtureResult, fixtureSegmentationInput } from './seg-sr-fixtures.js';
import { dciodvfy, dsrdump } from './support/validators.js';

const fixture = buildFixture();
const result = fixtureResult(fixture);
const seg = buildSegmentation(fixtureSegmentationInput(fixture, { phases: [result.phases.ed, result.phases.es] }));
const input = (overrides: Partial<MeasurementReportInput> = {}): MeasurementReportInput => fixtureReportInput(fixture, result, seg, overrides);

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
      ['no context', { context: undefined as never }, /context is required/],
    ];
    for (const [name, overrides, message] of cases) {
      test(name, () => assert.throws(() => buildMeasurementReport(input(overrides)), message));
    }
  });

  describe('content items pinned one by one', () => {
    const ds = readPart10(sr.bytes);
    const code = (item: any): string => item.ConceptNameCodeSequence?.[0]?.CodeValue;
    const child = (item: any, value: string): any => item.ContentSequence.find((c: any) => code(c) === value);
    const top = (value: string): any => ds.ContentSequence.find((c: any) => code(c) === value);

    test('the document root: TID 1500 container, language, device observer, procedure', () => {
      assert.equal(ds.ValueType, 'CONTAINER');
      assert.equal(ds.ConceptNameCodeSequence[0].CodeValue, '126000');
      assert.equal(ds.ContinuityOfContent, 'SEPARATE');
      assert.deepEqual(ds.ContentTemplateSequence.map((t: any) => [t.MappingResource, t.TemplateIdentifier]), [['DCMR', '1500']]);
      const language = top('121049');
      assert.equal(language.RelationshipType, 'HAS CONCEPT MOD');
      assert.equal(language.ConceptCodeSequence[0].CodeValue, 'en-US');
      const observer = ds.ContentSequence.filter((c: any) => c.RelationshipType === 'HAS OBS CONTEXT');
      assert.deepEqual(observer.map((c: any) => [code(c), c.ValueType]), [['121005', 'CODE'], ['121012', 'UIDREF'], ['121013', 'TEXT'], ['121014', 'TEXT'], ['121015', 'TEXT']]);
      assert.equal(observer[0].ConceptCodeSequence[0].CodeValue, '121007', 'observer type: device');
      assert.equal(observer[2].TextValue, 'pulse-lite');
      assert.equal(observer[3].TextValue, 'PULSE for Orthanc');
      assert.equal(observer[4].TextValue, modelLabel(algorithm));
      const procedure = top('121058');
      assert.equal(procedure.RelationshipType, 'HAS CONCEPT MOD');
      assert.equal(procedure.ConceptCodeSequence[0].CodeValue, '25056-3');
      assert.deepEqual(ds.ReferencedPerformedProcedureStepSequence ?? [], []);
      assert.deepEqual(ds.PerformedProcedureCodeSequence ?? [], []);
      assert.equal(ds.SeriesNumber, 9002);
      assert.equal(ds.InstanceNumber, 1);
      assert.equal(ds.SeriesDescription, 'PULSE automated measurements (not reviewed)');
      assert.equal(ds.ContentDate, '20240102', 'the content date given, not today');
      assert.ok(sr.sanitised.length === 0);
    });

    test('the image library lists every source image, with its frame number when it has one', () => {
      const group = top('111028').ContentSequence[0];
      assert.equal(code(group), '126200');
      const entries = group.ContentSequence;
      const images = input().sourceImages;
      assert.equal(entries.length, images.length);
      entries.forEach((entry: any, i: number) => {
        assert.equal(entry.ValueType, 'IMAGE');
        assert.equal(entry.ConceptNameCodeSequence, undefined);
        assert.equal(entry.ReferencedSOPSequence[0].ReferencedSOPInstanceUID, images[i]!.sopInstanceUID);
        assert.equal(entry.ReferencedSOPSequence[0].ReferencedSOPClassUID, images[i]!.sopClassUID);
        assert.equal(entry.ReferencedSOPSequence[0].ReferencedFrameNumber, undefined);
      });
      const framed = input().sourceImages.map((image, i) => ({ ...image, frameNumber: i + 1 }));
      const withFrames = readPart10(buildMeasurementReport(input({ sourceImages: framed })).bytes);
      const framedEntries = withFrames.ContentSequence.find((c: any) => code(c) === '111028').ContentSequence[0].ContentSequence;
      assert.deepEqual(framedEntries.map((e: any) => Number(e.ReferencedSOPSequence[0].ReferencedFrameNumber)), framed.map((_, i) => i + 1));
    });

    test('evidence groups the source images by series and lists the SEG under its own series', () => {
      const series = ds.CurrentRequestedProcedureEvidenceSequence[0].ReferencedSeriesSequence;
      assert.deepEqual(series.map((s: any) => s.SeriesInstanceUID), [fixture.context.seriesInstanceUID, seg.seriesInstanceUID]);
      assert.deepEqual(series[1].ReferencedSOPSequence.map((r: any) => [r.ReferencedSOPClassUID, r.ReferencedSOPInstanceUID]), [['1.2.840.10008.5.1.4.1.1.66.4', seg.sopInstanceUID]]);
      assert.equal(series[0].ReferencedSOPSequence.length, fixture.grid.slices * 2);
      assert.ok(series[0].ReferencedSOPSequence.every((r: any) => r.ReferencedSOPClassUID === '1.2.840.10008.5.1.4.1.1.4'));
    });

    test('each volumetric group: tracking, finding, segment, source series and finding site, in TID 1411 order', () => {
      const groups = top('126010').ContentSequence;
      assert.equal(groups.length, 5);
      for (const group of groups) {
        assert.equal(group.ContinuityOfContent, 'SEPARATE');
        assert.equal(group.RelationshipType, 'CONTAINS');
        assert.deepEqual(group.ContentSequence.map((c: any) => [code(c), c.RelationshipType]), [
          ['112039', 'HAS OBS CONTEXT'],
          ['112040', 'HAS OBS CONTEXT'],
          ['121071', 'CONTAINS'],
          ['121191', 'CONTAINS'],
          ['121232', 'CONTAINS'],
          ['363698007', 'HAS CONCEPT MOD'],
          [group.ContentSequence[6].ConceptNameCodeSequence[0].CodeValue, 'CONTAINS'],
        ]);
        assert.equal(child(group, '121232').UID, fixture.context.seriesInstanceUID);
      }
      const label = (g: any): string => child(g, '112039').TextValue;
      const site = (g: any): string => child(g, '363698007').ConceptCodeSequence[0].CodeValue;
      const finding = (g: any): string => child(g, '121071').ConceptCodeSequence[0].CodeValue;
      assert.deepEqual(groups.map((g: any) => [label(g), site(g), finding(g)]), [
        ['LV cavity at ED', '87878005', '87878005'],
        ['LV cavity at ES', '87878005', '87878005'],
        ['LV myocardium at ED', '87878005', '87878005'],
        ['RV cavity at ED', '53085002', '53085002'],
        ['RV cavity at ES', '53085002', '53085002'],
      ]);
      // The tracking UIDs stay the same when the report is written again.
      const again = readPart10(buildMeasurementReport(input()).bytes);
      assert.deepEqual(again.ContentSequence.find((c: any) => code(c) === '126010').ContentSequence.map((g: any) => child(g, '112040').UID), groups.map((g: any) => child(g, '112040').UID));
    });

    test('a segment the SEG or the manifest lacks gets no group', () => {
      const noMyo = readPart10(buildMeasurementReport(input({ segments: input().segments.filter((s) => s.key !== 'myo') })).bytes);
      const labels = (d: any) => d.ContentSequence.find((c: any) => code(c) === '126010').ContentSequence.map((g: any) => child(g, '112039').TextValue);
      assert.deepEqual(labels(noMyo), ['LV cavity at ED', 'LV cavity at ES', 'RV cavity at ED', 'RV cavity at ES']);
      const reference = segmentationReference(seg);
      const { rv: _rv, ...withoutRv } = reference.segmentNumbers;
      const noRv = readPart10(buildMeasurementReport(input({ segmentation: { ...reference, segmentNumbers: withoutRv } })).bytes);
      assert.deepEqual(labels(noRv), ['LV cavity at ED', 'LV cavity at ES', 'LV myocardium at ED']);
    });

    test('modifiers of a number: finding site where the concept does not name the ventricle, equivalent meaning for indexed values', () => {
      const derived = top('126011').ContentSequence;
      const byUnit = (concept: string, unit: string) => derived.find((c: any) => code(c) === concept && c.MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue === unit);
      const stroke = byUnit('90096001', 'ml');
      assert.deepEqual(stroke.ContentSequence.slice(0, 1).map((c: any) => [code(c), c.RelationshipType, c.ConceptCodeSequence[0].CodeValue]), [['363698007', 'HAS CONCEPT MOD', '87878005']]);
      const indexed = byUnit('8821-1', 'ml/m2');
      const meaning = indexed.ContentSequence[0];
      assert.deepEqual([code(meaning), meaning.RelationshipType, meaning.TextValue], ['121050', 'HAS CONCEPT MOD', 'Left ventricular end-diastolic volume indexed to body-surface area']);
      const lvef = byUnit('8811-2', '%');
      assert.equal(code(lvef.ContentSequence[0]), '121402', 'an EF by MR has no modifier: its range properties come first');
    });

    test('reference ranges: Abnormally High / Low, and only the limits the range has', () => {
      const ranges: NonNullable<StudyResult['reference_ranges']> = {
        lvedv_ml: { flag: 'HIGH', high: 150, unit: 'ml', sex: 'M', sex_neutral_fallback: false, source: 'Kawel-Boehm 2020', checked: 'primary' },
        lvesv_ml: { flag: 'LOW', low: 70, unit: 'ml', sex: 'any', sex_neutral_fallback: true, source: 'Kawel-Boehm 2020', checked: 'primary' },
      };
      const report = readPart10(buildMeasurementReport(input({ result: { ...result, reference_ranges: ranges } })).bytes);
      const derived = report.ContentSequence.find((c: any) => code(c) === '126011').ContentSequence;
      const edv = derived.find((c: any) => code(c) === '8821-1');
      assert.deepEqual(edv.ContentSequence.map((c: any) => [code(c), c.RelationshipType]), [['121402', 'HAS PROPERTIES'], ['371933006', 'HAS PROPERTIES'], ['121407', 'HAS PROPERTIES'], ['121408', 'HAS PROPERTIES']]);
      assert.equal(edv.ContentSequence[0].ConceptCodeSequence[0].CodeValue, '371879000');
      assert.equal(edv.ContentSequence[1].MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue, 'ml');
      assert.equal(edv.ContentSequence[2].TextValue, 'Reference range for adult men');
      assert.equal(edv.ContentSequence[3].TextValue, 'Kawel-Boehm 2020');
      const esv = derived.find((c: any) => code(c) === '8823-7');
      assert.deepEqual(esv.ContentSequence.map((c: any) => code(c)), ['121402', '385524004', '121407', '121408']);
      assert.equal(esv.ContentSequence[0].ConceptCodeSequence[0].CodeValue, '371880002');
      assert.equal(derived.find((c: any) => code(c) === '8811-2').ContentSequence, undefined, 'no range, no properties');
    });

    test('a result without reference ranges (or a caller without segments) still gives a report', () => {
      const { reference_ranges: _ranges, ...bare } = result;
      const report = readPart10(buildMeasurementReport(input({ result: bare, segments: undefined as never })).bytes);
      const derived = report.ContentSequence.find((c: any) => code(c) === '126011').ContentSequence;
      assert.equal(derived.length, sr.writtenMeasurements.length);
      assert.ok(derived.every((c: any) => !(c.ContentSequence ?? []).some((p: any) => code(p) === '121402')), 'no Normality without a range');
      assert.equal(report.ContentSequence.find((c: any) => code(c) === '126010').ContentSequence, undefined, 'no segments, no volumetric groups');
    });

    test('range descriptions name who the range is for', () => {
      const range = { flag: 'NORMAL', unit: 'ml', source: 's', checked: 'primary' } as const;
      assert.equal(rangeDescription({ ...range, sex: 'M', sex_neutral_fallback: false }), 'Reference range for adult men');
      assert.equal(rangeDescription({ ...range, sex: 'F', sex_neutral_fallback: false }), 'Reference range for adult women');
      assert.equal(rangeDescription({ ...range, sex: 'any', sex_neutral_fallback: true }), 'Reference range for adults of either sex (PatientSex unknown: union of the ranges for men and women)');
      assert.equal(rangeDescription({ ...range, sex: 'any', sex_neutral_fallback: false }), 'Reference range for adults');
    });

    test('qualitative evaluations: diagnosis with its certainty, findings, impression, then the disclaimer with the review statement', () => {
      const items = top('C0034375').ContentSequence;
      assert.deepEqual(items.map((c: any) => [code(c), c.ValueType]), [['121071', 'CODE'], ['121071', 'TEXT'], ['121073', 'TEXT'], ['121106', 'TEXT']]);
      assert.equal(items[1].TextValue, narrative.findings);
      assert.equal(items[2].TextValue, narrative.impression);
      assert.equal(items[3].TextValue, `${narrative.disclaimer} ${REVIEW_STATEMENT}`);
      assert.equal(items[0].ContentSequence[0].MeasuredValueSequence[0].MeasurementUnitsCodeSequence[0].CodeValue, '{ratio}');
    });

    test('quality control: review keeps the numbers behind a coded caution; fail states none, only why', () => {
      const summary = 'the myocardium is implausibly thin';
      const review = buildMeasurementReport(input({ qualityControl: { status: 'review', summary } }));
      const reviewed = readPart10(review.bytes);
      const qualitative = (d: any) => d.ContentSequence.find((c: any) => code(c) === 'C0034375').ContentSequence;
      assert.equal(qualitative(reviewed)[0].ConceptCodeSequence[0].CodeValue, '111236');
      assert.equal(qualitative(reviewed)[1].TextValue, `Automated quality control asks for review: ${summary}.`);
      assert.equal(qualitative(reviewed)[2].ConceptCodeSequence[0].CodeValue, '17621005', 'the diagnosis is kept');
      assert.deepEqual(review.writtenMeasurements, sr.writtenMeasurements);
      assert.equal(reviewed.ContentSequence.find((c: any) => code(c) === '126010').ContentSequence.length, 5);

      const fail = buildMeasurementReport(input({ qualityControl: { status: 'fail', summary } }));
      const failed = readPart10(fail.bytes);
      assert.deepEqual(fail.writtenMeasurements, []);
      assert.equal(failed.ContentSequence.find((c: any) => code(c) === '126011'), undefined, 'no Derived Imaging Measurements');
      assert.equal(failed.ContentSequence.find((c: any) => code(c) === '126010').ContentSequence, undefined, 'Imaging Measurements kept, empty');
      assert.deepEqual(qualitative(failed).map((c: any) => [code(c), c.ValueType]), [['121071', 'CODE'], ['121071', 'TEXT'], ['121071', 'TEXT'], ['121073', 'TEXT'], ['121106', 'TEXT']]);
      assert.equal(qualitative(failed)[0].ConceptCodeSequence[0].CodeValue, '111235');
      assert.equal(qualitative(failed)[1].TextValue, `Automated analysis failed quality control: ${summary}.`);
      assert.deepEqual(dciodvfy(fail.bytes).errors, []);

      const pass = buildMeasurementReport(input({ qualityControl: { status: 'pass', summary: 'LVEF 55' } }));
      assert.deepEqual(pass.bytes, sr.bytes, 'a pass adds nothing (and its summary may hold numbers)');
      assert.throws(() => buildMeasurementReport(input({ qualityControl: { status: 'review', summary: 'LVEF 9' } })), /qualityControl\.summary must hold no number/);
    });

    test('modalities: EF by MR, by CT, or the SNOMED EF with a finding site; each with its procedure', () => {
      const ef = (modality: string, side: 0 | 1) => measurementSpecs(modality).filter((s) => s.key === (side === 0 ? 'lvef_pct' : 'rvef_pct'))[0]!;
      assert.deepEqual([ef('MR', 0).concept, ef('MR', 1).concept], [codes.LVEF_MR, codes.RVEF_MR]);
      assert.deepEqual([ef('CT', 0).concept, ef('CT', 1).concept], [codes.LVEF_CT, codes.RVEF_CT]);
      assert.equal(ef('CT', 0).findingSite, undefined);
      assert.deepEqual([ef('US', 0).concept, ef('US', 0).findingSite, ef('US', 1).findingSite], [codes.CARDIAC_EJECTION_FRACTION, codes.LEFT_VENTRICLE, codes.RIGHT_VENTRICLE]);
      const ct = readPart10(buildMeasurementReport(input({ context: { ...fixture.context, modality: 'CT' } })).bytes);
      const derived = ct.ContentSequence.find((c: any) => code(c) === '126011').ContentSequence.map((c: any) => code(c));
      assert.ok(derived.includes('8810-4') && derived.includes('8817-9'));
      assert.equal(ct.ContentSequence.find((c: any) => code(c) === '121058').ConceptCodeSequence[0].CodeValue, codes.procedureForModality('CT').value);
      // Every spec has a label, a unit and a concept; keys are unique.
      const specs = measurementSpecs('MR');
      assert.equal(new Set(specs.map((s) => s.key)).size, specs.length);
      assert.deepEqual(specs.map((s) => s.label), ['LV EDV', 'LV ESV', 'LV SV', 'LVEF', 'LV mass', 'RV EDV', 'RV ESV', 'RVEF', 'LV EDVi', 'LV ESVi', 'LV SVi', 'LV mass index', 'RV EDVi', 'RV ESVi']);
      assert.deepEqual(specs.filter((s) => s.unit === codes.UNIT_ML_PER_M2).map((s) => s.equivalentMeaning ?? s.findingSite?.meaning), [
        'Left ventricular end-diastolic volume indexed to body-surface area',
        'Left ventricular end-systolic volume indexed to body-surface area',
        'Left Ventricle',
        'Right ventricular end-diastolic volume indexed to body-surface area',
        'Right ventricular end-systolic volume indexed to body-surface area',
      ]);
    });
  });

  describe('content item builders', () => {
    const NAME = { value: '1', scheme: '99TEST', meaning: 'Test' };
    test('a NUM keeps the shortest exact decimal up to 16 characters, else 12 significant digits', () => {
      const value = (n: number) => (numItem('CONTAINS', NAME, n, codes.UNIT_ML) as any).MeasuredValueSequence[0].NumericValue;
      assert.equal(value(152.3), '152.3');
      assert.equal(value(1234567890.12345), '1234567890.12345', '16 characters fit');
      assert.equal(value(1 / 3), Number((1 / 3).toPrecision(12)));
      assert.throws(() => numItem('CONTAINS', NAME, Number.NaN, codes.UNIT_ML), /NUM Test must be a finite number, got NaN/);
      assert.throws(() => numItem('CONTAINS', NAME, Infinity, codes.UNIT_ML), /finite/);
    });
    test('a TEXT must not be empty; children only when there are some', () => {
      assert.throws(() => textItem('CONTAINS', NAME, ''), /TEXT Test must not be empty/);
      assert.equal((textItem('CONTAINS', NAME, 'x', []) as any).ContentSequence, undefined);
      assert.equal((containerItem('CONTAINS', NAME, []) as any).ContentSequence, undefined);
      assert.equal((containerItem('CONTAINS', NAME, [], { continuity: 'CONTINUOUS' }) as any).ContinuityOfContent, 'CONTINUOUS');
      assert.equal((containerItem('CONTAINS', NAME, []) as any).ContentTemplateSequence, undefined);
    });
    test('an IMAGE reference carries frame and segment numbers only when given', () => {
      const ref = (r: Parameters<typeof imageItem>[2]) => (imageItem('CONTAINS', undefined, r) as any).ReferencedSOPSequence[0];
      const bare = ref({ sopClassUID: '1.2', sopInstanceUID: '1.3', frameNumbers: [], segmentNumbers: [] });
      assert.deepEqual(Object.keys(bare), ['ReferencedSOPClassUID', 'ReferencedSOPInstanceUID']);
      assert.deepEqual(ref({ sopClassUID: '1.2', sopInstanceUID: '1.3', frameNumbers: [2, 3], segmentNumbers: [1] }), { ReferencedSOPClassUID: '1.2', ReferencedSOPInstanceUID: '1.3', ReferencedFrameNumber: [2, 3], ReferencedSegmentNumber: [1] });
    });
  });
});
