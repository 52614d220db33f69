/**
 * The PDF report and its DICOM Encapsulated PDF: every number of the measurement table, the
 * reference ranges and the probabilities equals result.json (read back with poppler's pdftotext);
 * fonts embedded (pdffonts); a failed QC states no findings; dciodvfy finds no error in pdf.dcm; and
 * `processStudy({pdf: true})` on a synthetic study writes a PDF whose numbers are its result.json's.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { formatMeasurement, PROBABILITY_DECIMALS } from '../src/analysis/index.js';
import type { StudyResult } from '../src/core/result.js';
import { readPart10 } from '../src/dicom/modules/part10.js';
import { buildReportPdf, rangeText, REPORT_ROWS, REVIEW_BANNER } from '../src/dicom/pdf/document.js';
import { reportFonts } from '../src/dicom/pdf/fonts.js';
import { buildEncapsulatedPdf, encapsulatedPdfUids, ENCAPSULATED_PDF_SOP_CLASS_UID } from '../src/dicom/pdf/sop.js';
import { createImage } from '../src/dicom/overlay/raster.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { generateStudy } from '../src/synth/index.js';
import { buildFixture, fixtureRanges, fixtureResult } from './seg-sr-fixtures.js';
import { bundledManifest } from './support/paths.js';
import { dciodvfy } from './support/validators.js';

const GROUPS = [
  { name: 'NOR', description: 'Normal cardiac anatomy and function' },
  { name: 'DCM', description: 'Dilated cardiomyopathy' },
];

function withPdf<T>(pdf: Uint8Array, fn: (path: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-pdf-'));
  try {
    const path = join(dir, 'report.pdf');
    writeFileSync(path, pdf);
    return fn(path);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The PDF's text as pdftotext -layout gives it (table rows stay on one line). */
function pdfText(pdf: Uint8Array): string {
  return withPdf(pdf, (path) => execFileSync('pdftotext', ['-layout', '-enc', 'UTF-8', path, '-'], { encoding: 'utf8' }));
}

const numbersIn = (line: string): string[] => line.match(/-?\d+(?:\.\d+)?/g) ?? [];

/**
 * Checks every number of the measurement table and of the probabilities against the result: each row
 * holds exactly [value, low?, high?] as result.json has them, and the flag.
 */
function assertNumbersEqualResult(text: string, result: StudyResult): void {
  const lines = text.split('\n');
  let rows = 0;
  for (const row of REPORT_ROWS) {
    const value = result.measurements[row.key];
    const line = lines.find((l) => l.trimStart().startsWith(`${row.label} `));
    if (value === undefined) {
      assert.equal(line, undefined, `${row.key} is not in the result but its row is printed`);
      continue;
    }
    assert.ok(line, `no table row for ${row.key} (${row.label})`);
    rows++;
    const range = result.reference_ranges?.[row.key];
    const expected = [formatMeasurement(row.key, value), ...(range ? numbersIn(rangeText(row.key, range.low, range.high)) : [])];
    // The label holds no digit; the unit's superscript ² is not an ASCII digit.
    assert.deepEqual(numbersIn(line.replace(row.label, '')), expected, `row ${row.key}: ${line}`);
    assert.equal(Number(numbersIn(line.replace(row.label, ''))[0]), value, `${row.key} value equals result.json`);
    if (range) {
      assert.ok(line.includes(range.flag), `row ${row.key} shows its flag ${range.flag}: ${line}`);
      if (range.low !== undefined) assert.ok(expected.includes(formatMeasurement(row.key, range.low)));
    }
  }
  assert.ok(rows >= 8, `${rows} measurement rows`);
  const label = result.diagnosis.label;
  const flat = text.replace(/\s+/g, ' ');
  assert.ok(flat.includes(`Most probable group: ${label}`), 'diagnosis label');
  for (const [name, p] of Object.entries(result.diagnosis.probabilities)) {
    const printed = p.toFixed(PROBABILITY_DECIMALS);
    assert.ok(name === label ? flat.includes(`probability ${printed}`) : flat.includes(`${name} ${printed}`), `probability of ${name} (${printed})`);
    assert.equal(Number(printed), p, `${name}: result.json keeps ${PROBABILITY_DECIMALS} decimals`);
  }
}

const fixture = buildFixture();
const measurements = { lvedv_ml: 152.3, lvesv_ml: 61.8, lvsv_ml: 90.5, lvef_pct: 59.4, lv_mass_g: 118.2, rvedv_ml: 160.1, rvesv_ml: 75.4, rvef_pct: 52.9, lvedvi_ml_m2: 80.2, lv_mass_i_g_m2: 86, lv_max_wall_thickness_mm: 16.2 };
const result: StudyResult = {
  ...fixtureResult(fixture, measurements),
  reference_ranges: fixtureRanges(measurements),
  reference_population: { sex: 'F', adult: null, note: 'Flags use published adult reference ranges for women.' },
  wall_thickness: { max_mm: 16.2, aha_segment: 9, segment_name: 'mid inferoseptal', slice: 2 },
  narrative: 'Findings: Left ventricle: end-diastolic volume 152.3 ml.\nImpression: Automated classification: findings suggestive of normal cardiac anatomy and function (NOR).\nThis report was produced automatically.',
};
const keyImage = createImage(64, 48);
keyImage.data.fill(90);

describe('PDF report', () => {
  test('every number of the measurement table and the probabilities equals result.json; ranges, flags, model and review statement are printed', async () => {
    const pdf = await buildReportPdf({ result, groups: GROUPS, fonts: reportFonts(), keyImages: [{ caption: 'End-diastole', image: keyImage }], createdAt: new Date(Date.UTC(2026, 10, 29)) });
    assert.equal(Buffer.from(pdf.subarray(0, 5)).toString('latin1'), '%PDF-');
    const text = pdfText(pdf);
    assertNumbersEqualResult(text, result);
    const flat = text.replace(/\s+/g, ' ');
    assert.ok(flat.includes(REVIEW_BANNER.replace(/\s+/g, ' ')), 'the automated, needs-review statement');
    assert.ok(flat.includes(`Model: ${result.model.name} version ${result.model.version}`));
    assert.ok(flat.includes('Site calibration: none'));
    assert.ok(flat.includes('mid inferoseptal segment'));
    assert.ok(flat.includes('for women'));
    // LV mass index 86 g/m² is above the women's range: HIGH.
    assert.match(text.split('\n').find((l) => l.includes('LV mass index'))!, /HIGH/);
  });

  test('fonts are embedded (pdffonts), nothing is left to the viewer', async () => {
    const pdf = await buildReportPdf({ result, groups: GROUPS, fonts: reportFonts() });
    const listing = withPdf(pdf, (path) => execFileSync('pdffonts', [path], { encoding: 'utf8' }));
    const fonts = listing.split('\n').slice(2).filter((l) => l.trim().length > 0);
    assert.ok(fonts.length >= 2, listing);
    // Columns: emb, sub, uni. pdf-lib subsets glyphs but names the font without the AAAAAA+ tag, so
    // poppler's "sub" column says no; what matters is embedded (emb) and a ToUnicode map (uni).
    for (const line of fonts) assert.match(line, /^DejaVuSans\S*\s+CID TrueType\s+Identity-H\s+yes\s+(yes|no)\s+yes\b/, `embedded with a ToUnicode map: ${line}`);
  });

  test('a study that failed quality control states no findings', async () => {
    const failed = { ...result, qc: { status: 'fail', reasons: ['LV not found on enough slices'], ood: 0.9 } } as StudyResult;
    const text = pdfText(await buildReportPdf({ result: failed, groups: GROUPS, fonts: reportFonts() }));
    assert.match(text, /Status: FAIL/);
    assert.match(text, /states no findings/);
    assert.ok(!text.includes('152.3') && !text.includes('Most probable group'), text);
  });

  test('DICOM Encapsulated PDF: dciodvfy finds no error; the document, its length and MIME type read back', async () => {
    const pdf = await buildReportPdf({ result, groups: GROUPS, fonts: reportFonts() });
    const algorithm = { name: 'pulse-lite', version: '1.0.0', calibration: null };
    const built = buildEncapsulatedPdf({ context: fixture.context, pdf, algorithm, ...encapsulatedPdfUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm) });
    const report = dciodvfy(built.bytes);
    assert.deepEqual(report.errors, [], report.output);
    const ds = readPart10(built.bytes);
    assert.equal(ds.SOPClassUID, ENCAPSULATED_PDF_SOP_CLASS_UID);
    assert.equal(ds.SeriesNumber, 9004);
    assert.equal(ds.Modality, 'DOC');
    assert.equal(ds.MIMETypeOfEncapsulatedDocument, 'application/pdf');
    assert.equal(ds.EncapsulatedDocumentLength, pdf.length);
    const doc = new Uint8Array(ds.EncapsulatedDocument[0] ?? ds.EncapsulatedDocument);
    assert.deepEqual(Buffer.from(doc.subarray(0, pdf.length)), Buffer.from(pdf));
    assert.equal(ds.StudyInstanceUID, fixture.context.studyInstanceUID);
    assert.throws(() => buildEncapsulatedPdf({ context: fixture.context, pdf: new Uint8Array(20), algorithm, ...encapsulatedPdfUids('2.25.1', '2.25.2', algorithm) }), /not a PDF/);
  });
});

const modelFile = existsSync(bundledManifest) ? join(bundledManifest, '..', (JSON.parse(readFileSync(bundledManifest, 'utf8')) as { model: { file: string } }).model.file) : '';
test('processStudy with pdf: report.pdf numbers equal its result.json, and pdf.dcm passes dciodvfy', { skip: existsSync(modelFile) ? false : 'needs the bundled model' }, async () => {
  const study = generateStudy({ seed: 21, group: 'HCM', slices: 6, phases: 8 });
  const outputs = await processStudy(study.files.map((f) => ({ source: f.name, bytes: f.bytes })), { manifestPath: bundledManifest, pdf: true });
  assert.ok(outputs.pdf && outputs.pdfDicom, 'pdf and pdf.dcm');
  // The round trip through JSON is what `pulse infer` writes as result.json.
  const fromJson = JSON.parse(JSON.stringify(outputs.result)) as StudyResult;
  assertNumbersEqualResult(pdfText(outputs.pdf), fromJson);
  assert.deepEqual(dciodvfy(outputs.pdfDicom).errors, []);
  assert.equal(readPart10(outputs.pdfDicom).StudyInstanceUID, outputs.result.studyInstanceUID);
});
