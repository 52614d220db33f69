import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { buildSegmentation, segmentationReference, segmentationUids } from '../src/dicom/seg/sop.js';
import { buildMeasurementReport, measurementReportUids } from '../src/dicom/sr/sop.js';
import { buildFixture, DIAGNOSIS_GROUPS, fixtureResult, SEGMENTS } from './seg-sr-fixtures.js';
import { startTestOrthanc } from './support/orthanc.js';

/** STOW-RS: one multipart/related request, each part exactly `application/dicom` (FIELD-NOTES). */
async function stow(dicomWebUrl: string, objects: readonly Uint8Array[]): Promise<Response> {
  const boundary = `pulse-${randomUUID()}`;
  const chunks: Buffer[] = [];
  for (const bytes of objects) {
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Type: application/dicom\r\n\r\n`), Buffer.from(bytes), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return fetch(`${dicomWebUrl}/studies`, {
    method: 'POST',
    headers: { 'Content-Type': `multipart/related; type="application/dicom"; boundary=${boundary}`, Accept: 'application/dicom+json' },
    body: Buffer.concat(chunks),
  });
}

test('a real Orthanc accepts the SEG and the SR over STOW-RS and lists them in the study', async () => {
  const fixture = buildFixture({ seed: 'orthanc' });
  const result = fixtureResult(fixture);
  const algorithm = { name: 'pulse-lite', version: '1.0.0', calibration: null };
  const seg = buildSegmentation({
    context: fixture.context,
    labelMaps: fixture.labelMaps,
    phases: [result.phases.ed, result.phases.es],
    segments: SEGMENTS,
    algorithm,
    ...segmentationUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm),
  });
  const sr = buildMeasurementReport({
    context: fixture.context,
    result,
    narrative: { findings: 'Findings.', impression: 'Impression.', disclaimer: 'Automated.' },
    segments: SEGMENTS,
    diagnosisGroups: DIAGNOSIS_GROUPS,
    segmentation: segmentationReference(seg),
    sourceImages: fixture.labelMaps.flatMap((row) => [row[result.phases.ed]!.image, row[result.phases.es]!.image]),
    algorithm,
    ...measurementReportUids(fixture.context.studyInstanceUID, fixture.context.seriesInstanceUID, algorithm),
  });

  const orthanc = await startTestOrthanc();
  try {
    const response = await stow(orthanc.dicomWebUrl, [seg.bytes, sr.bytes]);
    const body = await response.text();
    assert.equal(response.status, 200, body);
    const stored = JSON.parse(body) as Record<string, { Value?: unknown[] }>;
    assert.equal(stored['00081198']?.Value?.length ?? 0, 0, `FailedSOPSequence is empty: ${body}`);
    assert.equal(stored['00081199']?.Value?.length, 2, `ReferencedSOPSequence lists both objects: ${body}`);

    const found = await (await fetch(`${orthanc.url}/tools/lookup`, { method: 'POST', body: fixture.context.studyInstanceUID })).json() as Array<{ ID: string; Type: string }>;
    const study = found.find((r) => r.Type === 'Study');
    assert.ok(study, 'the study exists in Orthanc');
    const series = await (await fetch(`${orthanc.url}/studies/${study.ID}/series`)).json() as Array<{ MainDicomTags: Record<string, string> }>;
    const byModality = new Map(series.map((s) => [s.MainDicomTags.Modality, s.MainDicomTags]));
    assert.equal(byModality.get('SEG')?.SeriesInstanceUID, seg.seriesInstanceUID);
    assert.equal(byModality.get('SR')?.SeriesInstanceUID, sr.seriesInstanceUID);
    assert.match(byModality.get('SEG')?.SeriesDescription ?? '', /automated/i);

    // DICOMweb reads the SEG back (metadata of every frame's source reference survives the round trip).
    const metadata = await (await fetch(`${orthanc.dicomWebUrl}/studies/${fixture.context.studyInstanceUID}/series/${seg.seriesInstanceUID}/metadata`)).json() as Array<Record<string, { Value?: unknown[] }>>;
    assert.equal(metadata.length, 1);
    assert.equal(Number(metadata[0]!['00280008']?.Value?.[0]), seg.frames.length); // NumberOfFrames
  } finally {
    await orthanc.stop();
  }
});
