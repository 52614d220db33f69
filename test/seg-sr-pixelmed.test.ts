/**
 * PixelMed (Java) judges the SEG and the TID 1500 report the builders write for the hand-built
 * fixture. Kept apart from seg.test.ts and sr.test.ts because each PixelMed call starts a JVM (seconds):
 * mutation testing runs those two files for every mutant and leaves this one out (docs/testing.md).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildSegmentation } from '../src/dicom/seg/sop.js';
import { buildMeasurementReport } from '../src/dicom/sr/sop.js';
import { readPart10 } from '../src/dicom/modules/part10.js';
import { buildFixture, fixtureReportInput, fixtureResult, fixtureSegmentationInput } from './seg-sr-fixtures.js';
import { pixelmedInstanceValidator, pixelmedSrValidator } from './support/validators.js';

const fixture = buildFixture();

describe('SEG builder, judged by PixelMed', () => {
  test('PixelMed DicomInstanceValidator finds no error in the SEG; Laterality is absent, ImageLaterality U', () => {
    const bytes = buildSegmentation(fixtureSegmentationInput(fixture)).bytes;
    const report = pixelmedInstanceValidator(bytes);
    assert.match(report.output, /Found Segmentation IOD/);
    // PixelMed asks for series Laterality unless an Image/Frame Laterality exists; dciodvfy rejects series
    // Laterality for an unpaired body part. ImageLaterality U satisfies both (docs/dicom-outputs.md).
    assert.deepEqual(report.errors, [], report.output);
    const ds = readPart10(bytes);
    assert.equal(ds.Laterality, undefined);
    assert.equal(ds.ImageLaterality, 'U');
    // Accepted: this PixelMed build predates the ISO_IR 192 (UTF-8) defined term.
    assert.deepEqual(report.warnings.filter((w) => !/ISO_IR 192/.test(w)), [], report.output);
  });
});

describe('TID 1500 measurement report, judged by PixelMed', () => {
  const result = fixtureResult(fixture);
  const seg = buildSegmentation(fixtureSegmentationInput(fixture, { phases: [result.phases.ed, result.phases.es] }));
  const sr = buildMeasurementReport(fixtureReportInput(fixture, result, seg));

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

});
