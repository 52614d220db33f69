/**
 * FHIR R4 for worklists and the RIS: a transaction Bundle holding one DiagnosticReport, one
 * Observation per measurement and a Device naming the model. ONE source: the study result
 * (result.json). Pure: result in, JSON out.
 *
 * Codes: every coding comes from src/dicom/codes.ts (the DICOM standard's tables, the same concepts the
 * SR uses) or, for LVEF, also LOINC 10230-1 "Left ventricular Ejection fraction" (the generic LVEF
 * code next to DICOM's "by MR" 8811-2). A measurement without a standard concept (maximal wall
 * thickness, body-surface area, the indexed RV ES volume) gets `code.text` only: no code is invented.
 * Indexed values reuse their base concept with the indexed UCUM unit and a text naming the index,
 * as the SR does.
 *
 * What a receiver can rely on: status `preliminary` (never reviewed); the "automated, needs review"
 * statement in the conclusion; the diagnosis as `conclusionCode` (the manifest's SNOMED CT code) with
 * its probability stated in the conclusion, worded as cautiously as the probability requires (the
 * narrative's impression); each Observation's referenceRange and interpretation (H / L / N) from
 * result.json's reference_ranges; the study by its Study Instance UID (`imagingStudy` by identifier,
 * urn:oid). The patient is not identified here (no Patient resource): a receiver matches on the Study
 * Instance UID. A study whose quality control failed gets a report with no results and no
 * conclusionCode, saying so.
 */
import type { StudyResult } from '../core/result.js';
import { modelLabel } from '../core/model-identity.js';
import { formatMeasurement, PROBABILITY_DECIMALS } from '../analysis/conventions.js';
import * as codes from '../dicom/codes.js';
import { measurementSpecs } from '../dicom/sr/measurements.js';
import { deterministicUid } from '../dicom/uid.js';

export const AUTOMATED_STATEMENT = 'Automated result (PULSE), not reviewed: decision support only; must be reviewed and confirmed by a qualified physician.';

const SYSTEMS: Readonly<Record<string, string>> = {
  LN: 'http://loinc.org',
  SCT: 'http://snomed.info/sct',
  DCM: 'http://dicom.nema.org/resources/ontology/DCM',
  UCUM: 'http://unitsofmeasure.org',
};

/** A coded concept of codes.ts as a FHIR Coding. */
export function coding(concept: codes.CodedConcept): { system: string; code: string; display: string } {
  const system = SYSTEMS[concept.scheme];
  if (!system) throw new TypeError(`no FHIR system known for coding scheme '${concept.scheme}' (${concept.value})`);
  return { system, code: concept.value, display: concept.meaning };
}

/** LOINC 10230-1, the generic LVEF concept (given beside DICOM's "by MR" code). */
const LVEF_GENERIC = { system: SYSTEMS.LN!, code: '10230-1', display: 'Left ventricular Ejection fraction' };

/** Human labels (code.text) per result key; also the measurements without a standard code. */
const LABELS: Readonly<Record<string, string>> = {
  lvedv_ml: 'LV end-diastolic volume',
  lvesv_ml: 'LV end-systolic volume',
  lvsv_ml: 'LV stroke volume',
  lvef_pct: 'LV ejection fraction',
  lv_mass_g: 'LV mass',
  rvedv_ml: 'RV end-diastolic volume',
  rvesv_ml: 'RV end-systolic volume',
  rvef_pct: 'RV ejection fraction',
  lvedvi_ml_m2: 'LV end-diastolic volume index',
  lvesvi_ml_m2: 'LV end-systolic volume index',
  lvsvi_ml_m2: 'LV stroke volume index',
  lv_mass_i_g_m2: 'LV mass index',
  rvedvi_ml_m2: 'RV end-diastolic volume index',
  rvesvi_ml_m2: 'RV end-systolic volume index',
  bsa_m2: 'Body-surface area (Mosteller)',
  lv_max_wall_thickness_mm: 'LV maximal end-diastolic wall thickness',
};
const UNITS: Readonly<Record<string, string>> = { ml: 'ml', '%': '%', g: 'g', 'ml/m2': 'ml/m2', 'g/m2': 'g/m2', m2: 'm2', mm: 'mm' };
const UNIT_BY_KEY: Readonly<Record<string, string>> = { bsa_m2: 'm2', lv_max_wall_thickness_mm: 'mm', rvesvi_ml_m2: 'ml/m2' };

const INTERPRETATION = {
  HIGH: { code: 'H', display: 'High' },
  LOW: { code: 'L', display: 'Low' },
  NORMAL: { code: 'N', display: 'Normal' },
} as const;

export type FhirResource = Record<string, unknown> & { resourceType: string };
// A type alias (not an interface) so that it fits StudyOutputs' structural `fhir` type.
export type FhirBundle = {
  resourceType: 'Bundle';
  type: 'transaction';
  id: string;
  timestamp: string;
  entry: Array<{ resource: FhirResource; request: { method: 'PUT'; url: string } }>;
};

export interface DiagnosticReportInput {
  readonly result: StudyResult;
  /** Modality of the source series (selects the "by MR" EF concepts as in the SR). @defaultValue 'MR' */
  readonly modality?: string;
  /** Manifest diagnosis groups: name -> coded finding (conclusionCode) and description. */
  readonly groups: ReadonlyArray<{ readonly name: string; readonly description?: string; readonly code: codes.CodedConcept }>;
  /** When the report was issued. @defaultValue now */
  readonly issued?: Date;
  /**
   * Why quality control failed or asks for review, without numbers (qcSummary): what a failed
   * report says instead of result.qc.reasons, which quote the implausible numbers.
   */
  readonly qualityControlSummary?: string;
}

function resultQcStatus(result: StudyResult): { status: string; reasons: string[] } | undefined {
  const qc = (result as { qc?: { status?: unknown; reasons?: unknown } }).qc;
  if (!qc || typeof qc.status !== 'string') return undefined;
  return { status: qc.status, reasons: Array.isArray(qc.reasons) ? qc.reasons.filter((r): r is string => typeof r === 'string') : [] };
}

/** The narrative's impression line (the diagnosis wording that respects its probability). */
function impressionOf(narrative: string): string | undefined {
  return narrative.split('\n').find((line) => line.startsWith('Impression:'));
}

/** The report's identifier UID. */
function reportUid(result: StudyResult): string {
  return deterministicUid(result.studyInstanceUID, result.seriesInstanceUID, result.model.name, result.model.version, result.model.calibration ?? 'uncalibrated', 'fhir', 'report-identifier');
}

/** Deterministic ids: the same result gives the same resources (PUT is idempotent on a server). */
function idFor(result: StudyResult, ...parts: string[]): string {
  return deterministicUid(result.studyInstanceUID, result.seriesInstanceUID, result.model.name, result.model.version, result.model.calibration ?? 'uncalibrated', 'fhir', ...parts).replace(/^2\.25\./, 'pulse-').slice(0, 64);
}

function observation(result: StudyResult, key: string, value: number, modality: string, deviceRef: string, issued: string): FhirResource {
  const spec = measurementSpecs(modality).find((s) => s.key === key);
  const codings = spec ? [coding(spec.concept)] : [];
  if (key === 'lvef_pct') codings.push(LVEF_GENERIC);
  const ucum = spec ? spec.unit.value : (UNIT_BY_KEY[key] ?? '');
  const range = result.reference_ranges?.[key];
  const resource: FhirResource = {
    resourceType: 'Observation',
    id: idFor(result, key),
    status: 'preliminary',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category', code: 'imaging', display: 'Imaging' }] }],
    code: { ...(codings.length > 0 ? { coding: codings } : {}), text: LABELS[key] ?? key },
    ...(spec?.findingSite ? { bodySite: { coding: [coding(spec.findingSite)] } } : {}),
    issued,
    valueQuantity: { value, unit: UNITS[ucum] ?? ucum, system: SYSTEMS.UCUM, code: ucum },
    device: { reference: deviceRef },
    note: [{ text: `${AUTOMATED_STATEMENT} Reported as ${formatMeasurement(key, value)} ${ucum}.` }],
  };
  if (range) {
    const quantity = (v: number) => ({ value: v, unit: UNITS[ucum] ?? ucum, system: SYSTEMS.UCUM, code: ucum });
    const who = range.sex === 'M' ? 'adult men' : range.sex === 'F' ? 'adult women' : range.sex_neutral_fallback ? 'adults of either sex (PatientSex unknown)' : 'adults';
    resource.referenceRange = [
      {
        ...(range.low !== undefined ? { low: quantity(range.low) } : {}),
        ...(range.high !== undefined ? { high: quantity(range.high) } : {}),
        ...(range.sex !== 'any' ? { appliesTo: [{ coding: [{ system: 'http://hl7.org/fhir/administrative-gender', code: range.sex === 'M' ? 'male' : 'female' }] }] } : {}),
        text: `Reference range for ${who}: ${range.source}`,
      },
    ];
    resource.interpretation = [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', ...INTERPRETATION[range.flag] }] }];
  }
  return resource;
}

/** The Bundle for one finished study. */
export function buildDiagnosticReportBundle(input: DiagnosticReportInput): FhirBundle {
  const { result } = input;
  if (!result) throw new TypeError('result is required');
  const modality = input.modality ?? 'MR';
  const issued = (input.issued ?? new Date()).toISOString();
  const qc = resultQcStatus(result);
  const failed = qc?.status === 'fail';

  const deviceId = idFor(result, 'device');
  const reportId = idFor(result, 'report');
  const deviceRef = `Device/${deviceId}`;
  const device: FhirResource = {
    resourceType: 'Device',
    id: deviceId,
    status: 'active',
    manufacturer: 'PULSE for Orthanc',
    deviceName: [{ name: modelLabel(result.model), type: 'model-name' }],
    version: [{ value: result.model.version }, ...(result.model.calibration ? [{ type: { text: 'site calibration' }, value: result.model.calibration }] : [])],
    type: { text: 'Automated cardiac MR segmentation and classification (software)' },
  };

  const observations = failed
    ? []
    : Object.entries(result.measurements)
        .filter(([key]) => LABELS[key] !== undefined)
        .map(([key, value]) => observation(result, key, value, modality, deviceRef, issued));

  const label = result.diagnosis.label;
  const group = input.groups.find((g) => g.name === label);
  const probability = result.diagnosis.probabilities[label];
  const qcText = qc ? ` Quality control: ${qc.status.toUpperCase()}${qc.reasons.length ? ` (${qc.reasons.join('; ')})` : ''}.` : '';
  // A failed report quotes no number, not even in its reasons (they name the implausible values).
  const failedWhy = input.qualityControlSummary && !/\d/.test(input.qualityControlSummary) ? ` Why: ${input.qualityControlSummary}.` : '';
  const conclusion = failed
    ? `The automated analysis failed quality control: no findings are stated for this study.${failedWhy} ${AUTOMATED_STATEMENT}`
    : `${impressionOf(result.narrative) ?? ''} Most probable group ${label}${probability !== undefined ? ` with probability ${probability.toFixed(PROBABILITY_DECIMALS)}` : ''}.${qcText} ${AUTOMATED_STATEMENT}`.trim();

  const report: FhirResource = {
    resourceType: 'DiagnosticReport',
    id: reportId,
    // The report's own identifier (a 2.25 UID, stable for this study, model and calibration); the study is in imagingStudy.
    identifier: [{ system: 'urn:ietf:rfc:3986', value: `urn:oid:${reportUid(result)}` }],
    status: 'preliminary',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074', code: 'RAD', display: 'Radiology' }] }],
    code: { coding: [coding(codes.IMAGING_MEASUREMENT_REPORT)], text: 'PULSE automated cardiac MR report' },
    issued,
    imagingStudy: [{ identifier: { system: 'urn:dicom:uid', value: `urn:oid:${result.studyInstanceUID}` }, display: 'Source cardiac MR study' }],
    result: observations.map((o) => ({ reference: `Observation/${o.id as string}` })),
    conclusion,
    ...(!failed && group ? { conclusionCode: [{ coding: [coding(group.code)], text: `${group.name}: ${group.description ?? group.code.meaning} (automated, probability ${probability?.toFixed(PROBABILITY_DECIMALS) ?? 'unknown'})` }] } : {}),
  };
  if ((report.result as unknown[]).length === 0) delete report.result;

  const resources = [device, ...observations, report];
  return {
    resourceType: 'Bundle',
    type: 'transaction',
    id: idFor(result, 'bundle'),
    timestamp: issued,
    entry: resources.map((resource) => ({
      resource,
      request: { method: 'PUT' as const, url: `${resource.resourceType}/${resource.id as string}` },
    })),
  };
}
