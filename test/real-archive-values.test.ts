/**
 * Issue 11, item 1: a study as older real archives hold it (leading-zero UID components, PatientBirthDate
 * 00000000, a StudyTime that is no TM, an over-long PatientName) is processed by `pulse infer` and by
 * the service on a real Orthanc. Our objects reference the source UIDs verbatim, and dciodvfy's
 * errors on them come only from those referenced source UIDs: nothing we create is invalid.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema } from '../src/config/schema.js';
import { readPart10, writePart10 } from '../src/dicom/modules/part10.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { Writable } from 'node:stream';
import winston from 'winston';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService } from '../src/service/service.js';
import { ODD_UID_PREFIX, makeOddValuesStudy } from './odd-values-fixture.js';
import { startTestOrthanc } from './support/orthanc.js';
import { bundledManifest, pulseBin } from './support/paths.js';
import { dciodvfy } from './support/validators.js';
import { seriesModalities, waitFor } from './service-support.js';

const noModel = existsSync(bundledManifest) ? false : 'the bundled model is missing';

/**
 * dciodvfy errors that are not about a referenced source UID. dciodvfy reports a bad UID as
 * "Error - Leading zeroes in UID component" (or similar) followed by the attribute on the next
 * lines; we keep the error lines whose value or context holds the odd prefix out of the count.
 */
function errorsNotFromSourceUids(output: string, sourceUids: ReadonlySet<string>): string[] {
  const lines = output.split('\n');
  const unexplained: string[] = [];
  lines.forEach((line, i) => {
    if (!line.startsWith('Error')) return;
    const context = [line, lines[i - 1] ?? '', lines[i + 1] ?? ''].join(' ');
    const aboutSourceUid = [...sourceUids].some((uid) => context.includes(uid)) || (/UID/i.test(line) && context.includes(ODD_UID_PREFIX));
    if (!aboutSourceUid) unexplained.push(line);
  });
  return unexplained;
}

function sourceUidsOf(files: ReadonlyArray<{ bytes: Uint8Array }>): Set<string> {
  const uids = new Set<string>();
  for (const f of files) {
    const ds = readPart10(f.bytes);
    for (const k of ['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID', 'FrameOfReferenceUID']) uids.add(String(ds[k]));
  }
  return uids;
}

function checkOurObject(name: string, bytes: Uint8Array, study: { studyInstanceUID: string }, sourceUids: ReadonlySet<string>): void {
  const ds = readPart10(bytes);
  assert.equal(ds.StudyInstanceUID, study.studyInstanceUID, `${name}: the study UID is referenced exactly as the source holds it`);
  assert.equal(ds.PatientBirthDate ?? '', '', `${name}: PatientBirthDate 00000000 is written empty`);
  assert.equal(ds.StudyTime ?? '', '', `${name}: an invalid StudyTime is written empty`);
  const name64 = (ds.PatientName as Array<{ Alphabetic: string }>)[0]!.Alphabetic;
  assert.ok(Array.from(name64).length <= 64, `${name}: PatientName cut to 64 characters`);
  const report = dciodvfy(bytes);
  // The test says so: the only dciodvfy errors allowed are about the source UIDs we reference.
  assert.deepEqual(errorsNotFromSourceUids(report.output, sourceUids), [], `${name}: dciodvfy errors not explained by referenced source UIDs:\n${report.output}`);
}

test('pulse infer processes a study with leading-zero UIDs and invalid copied values, and says what it sanitised', { skip: noModel }, (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-odd-values-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const study = makeOddValuesStudy({ seed: 31, group: 'NOR', slices: 6, phases: 8 });
  mkdirSync(join(dir, 'study'));
  for (const f of study.files) writeFileSync(join(dir, 'study', f.name.replaceAll('/', '_')), f.bytes);
  const out = join(dir, 'out');
  const r = spawnSync(process.execPath, [pulseBin, 'infer', join(dir, 'study'), '--out', out, '--threads', '1', '--overlay'], { encoding: 'utf8', timeout: 180_000 });
  assert.equal(r.status, 0, r.stderr);
  // What was sanitised is said, by keyword, without the values.
  assert.match(r.stderr, /PatientBirthDate emptied \(invalid DA\)/);
  assert.match(r.stderr, /StudyTime emptied \(invalid TM\)/);
  assert.match(r.stderr, /PatientName truncated/);
  assert.doesNotMatch(r.stderr, /00000000|VERYLONGFAMILYNAME/);
  const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as { studyInstanceUID: string; seriesInstanceUID: string };
  assert.equal(result.studyInstanceUID, study.studyInstanceUID);
  assert.equal(result.seriesInstanceUID, study.seriesInstanceUID);
  const sourceUids = sourceUidsOf(study.files);
  for (const name of ['seg.dcm', 'sr.dcm', 'overlay.dcm']) checkOurObject(name, readFileSync(join(out, name)), study, sourceUids);
  // The SEG references every frame's source image verbatim.
  const seg = readPart10(readFileSync(join(out, 'seg.dcm')));
  const referenced = (seg.ReferencedSeriesSequence as Array<{ SeriesInstanceUID: string; ReferencedInstanceSequence: Array<{ ReferencedSOPInstanceUID: string }> }>)[0]!;
  assert.equal(referenced.SeriesInstanceUID, study.seriesInstanceUID);
  for (const item of referenced.ReferencedInstanceSequence) assert.ok(sourceUids.has(item.ReferencedSOPInstanceUID), item.ReferencedSOPInstanceUID);
});

test('the service processes the same kind of study on a real Orthanc and logs what it sanitised, without values', { skip: noModel }, async () => {
  const processor = createPipelineProcessor();
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-odd-service-'));
  const lines: string[] = [];
  const config = ConfigSchema.parse({ orthanc: { url: orthanc.url }, dataDir, server: { port: 0 }, changesFeed: { pollIntervalMs: 200 }, queue: { pollIntervalMs: 200 } });
  const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(chunk.toString()), done()) });
  const logger = winston.createLogger({ level: 'info', format: winston.format.json(), transports: [new winston.transports.Stream({ stream: sink })] });
  const service = await startService({ config, processor, logger });
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const study = makeOddValuesStudy({ seed: 32, group: 'DCM', slices: 6, phases: 8 });
    let studyId = '';
    for (const file of study.files) studyId = (await client.uploadInstance(file.bytes)).ParentStudy;
    const job = await waitFor('job finished', async () => {
      const j = (await service.store.findByStudy(study.studyInstanceUID))[0];
      return j !== undefined && ['done', 'failed', 'skipped'].includes(j.state) && j;
    }, 180_000);
    assert.equal(job.state, 'done', job.reason ?? '');
    assert.deepEqual(await seriesModalities(client, studyId), ['MR', 'SEG', 'SR']);
    assert.ok(job.outcome?.sanitised?.includes('PatientBirthDate emptied (invalid DA)'), JSON.stringify(job.outcome));
    const done = lines.find((l) => l.includes('job done'));
    assert.ok(done, lines.join('\n'));
    assert.match(done, /PatientBirthDate emptied/);
    assert.doesNotMatch(lines.join('\n'), /00000000|VERYLONGFAMILYNAME/);
    // The stored objects are ours, referencing the source study as Orthanc holds it.
    const sourceUids = sourceUidsOf(study.files);
    const series = await client.getJson<Array<{ MainDicomTags: { Modality: string }; Instances: string[] }>>(`/studies/${studyId}/series`);
    for (const s of series.filter((x) => x.MainDicomTags.Modality !== 'MR')) {
      const bytes = await client.instanceFile(s.Instances[0]!);
      checkOurObject(s.MainDicomTags.Modality, bytes, study, sourceUids);
    }
  } finally {
    await service.stop(1000);
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('a study the writers cannot serve fails as bad input before the model runs, not as an internal error after it', async () => {
  const { generateStudy } = await import('../src/synth/index.js');
  const { processStudy } = await import('../src/pipeline/process-study.js');
  const { BadInputError } = await import('../src/core/errors.js');
  const study = generateStudy({ seed: 33, slices: 4, phases: 3 });
  const instances = study.files.map((f) => {
    const ds = readPart10(f.bytes);
    delete ds.FrameOfReferenceUID;
    return { source: f.name, bytes: writePart10(ds) };
  });
  // The manifest does not exist: reaching the model would fail differently.
  await assert.rejects(processStudy(instances, { manifestPath: '/nonexistent/manifest.json' }), (e: unknown) => e instanceof BadInputError && /FrameOfReferenceUID is missing/.test(e.message) && e.message.includes(study.truth.studyInstanceUID));
});
