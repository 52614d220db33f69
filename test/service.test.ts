/**
 * The service against a real Orthanc 1.10, in process, with the stand-in processor (a real function
 * with processStudy's contract; test/service-pipeline.test.ts runs the real pipeline).
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema, type ConfigInput } from '../src/config/schema.js';
import { freePort } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createLogger } from '../src/service/logger.js';
import { startService, type RunningService } from '../src/service/service.js';
import type { StudyProcessor } from '../src/service/study-job.js';
import { startTestOrthanc, type RunningOrthanc } from './support/orthanc.js';
import { projectRoot, sharedData } from './support/paths.js';
import dcmjs from 'dcmjs';
import { makeCineStudy, makeCtImage, seriesModalities, standInProcessor, uploadStudy, waitFor } from './service-support.js';

const luaScript = readFileSync(join(projectRoot, 'orthanc-config', 'pulse-webhook.lua'), 'utf8');
const SECRET = 'test-webhook-secret';
const logger = createLogger('error', { silent: true });

interface Setup {
  orthanc: RunningOrthanc;
  client: OrthancRestClient;
  service: RunningService;
  processor: StudyProcessor & { calls: string[] };
  dataDir: string;
}

async function setup(options: { webhook: boolean; changesFeed: boolean; config?: ConfigInput; delayMs?: number; forwardToSelf?: boolean }): Promise<Setup> {
  const port = await freePort();
  const dicomPort = await freePort();
  const orthanc = await startTestOrthanc({
    dicomPort,
    // Orthanc registered as a DICOM destination of itself: forwarding does a real C-STORE.
    modalities: options.forwardToSelf ? { self: { aet: 'PULSETEST', host: '127.0.0.1', port: dicomPort } } : undefined,
    stableAgeSeconds: 1,
    userMetadata: USER_METADATA_DECLARATION,
    luaScripts: options.webhook ? [luaScript] : [],
    extraConfig: options.webhook ? { PulseWebhook: { Url: `http://127.0.0.1:${port}/webhook/stable-study`, Secret: SECRET } } : {},
  });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-service-'));
  const config = ConfigSchema.parse({
    ...options.config,
    orthanc: { ...options.config?.orthanc, url: orthanc.url, timeoutMs: 5000 },
    dataDir,
    server: { port, webhookSecret: options.webhook ? SECRET : undefined },
    changesFeed: { enabled: options.changesFeed, pollIntervalMs: 200 },
    queue: { pollIntervalMs: 200, leaseMs: 5000, backoff: { baseMs: 300, maxMs: 1500, jitter: 0.2 }, ...options.config?.queue },
  });
  const processor = standInProcessor({ delayMs: options.delayMs });
  const service = await startService({ config, processor, logger });
  return { orthanc, client: new OrthancRestClient({ url: orthanc.url }), service, processor, dataDir };
}

async function teardown(s: Setup | undefined): Promise<void> {
  if (!s) return;
  await s.service.stop(1000);
  await s.orthanc.stop();
  rmSync(s.dataDir, { recursive: true, force: true });
}

async function jobFor(s: Setup, studyUID: string, states: string[], timeoutMs = 30_000) {
  return waitFor(`job of ${studyUID} in ${states.join('/')}`, async () => {
    const job = (await s.service.store.findByStudy(studyUID))[0];
    return job !== undefined && states.includes(job.state) && job;
  }, timeoutMs);
}

describe('changes feed alone', () => {
  let s: Setup | undefined;
  before(async () => {
    s = await setup({ webhook: false, changesFeed: true });
  });
  after(() => teardown(s));

  test('a cine study uploaded to Orthanc gets its SEG and SR in the same study, and is marked', async () => {
    const study = makeCineStudy(1);
    const studyId = await uploadStudy(s!.client, study);
    const job = await jobFor(s!, study.studyInstanceUID, ['done', 'failed', 'skipped']);
    assert.equal(job.state, 'done', job.reason ?? '');
    assert.equal(job.source, 'changes');
    assert.deepEqual(await seriesModalities(s!.client, studyId), ['MR', 'SEG', 'SR']);
    const metadata = await s!.client.getJson<Record<string, string>>(`/studies/${studyId}/metadata?expand`);
    assert.equal(metadata.PulseStatus, 'done');
    assert.equal(metadata.PulseModel, 'stand-in@1.0.0');
    assert.equal(metadata.PulseDiagnosis, job.outcome!.diagnosis);
    assert.equal(metadata.PulsePriority, job.outcome!.lvefPct! < 35 ? 'urgent' : 'routine');
    for (const stage of ['queue_wait', 'route', 'retrieve', 'pipeline', 'pipeline.inference', 'store', 'mark', 'total']) {
      assert.ok(typeof job.timings[stage] === 'number', `timing ${stage} in ${JSON.stringify(job.timings)}`);
    }
  });

  test("the service's own outputs trigger nothing", async () => {
    const study = makeCineStudy(1);
    const studyId = (await s!.client.listStudies())[0]!;
    // Our SEG/SR made the study change: Orthanc announces it stable again. Wait until the feed is past that.
    const changes = await waitFor('second StableStudy', async () => {
      const page = await s!.client.getJson<{ Changes: Array<{ ChangeType: string; ID: string; Seq: number }> }>('/changes?since=0&limit=1000');
      const stable = page.Changes.filter((c) => c.ChangeType === 'StableStudy' && c.ID === studyId);
      return stable.length >= 2 && stable;
    }, 20_000);
    await waitFor('cursor past it', async () => ((await s!.service.listener!.cursor()) ?? 0) >= changes[1]!.Seq, 10_000);
    await new Promise((r) => setTimeout(r, 500));
    const jobs = (await s!.service.store.findByStudy(study.studyInstanceUID));
    assert.equal(jobs.length, 1);
    assert.equal(jobs[0]!.state, 'done');
    assert.equal(jobs[0]!.attempts, 1);
    assert.deepEqual(s!.processor.calls, [study.studyInstanceUID]);
  });

  test('a non-cardiac study is skipped with its reason', async () => {
    const ct = makeCtImage(2);
    await uploadStudy(s!.client, ct);
    const job = await jobFor(s!, ct.studyInstanceUID, ['done', 'failed', 'skipped']);
    assert.equal(job.state, 'skipped');
    assert.match(job.reason!, /no series qualifies \(series [0-9.]+: Modality CT is not one of MR\)/);
  });

  test('reprocessing through the API runs the study again without duplicating its outputs', async () => {
    const study = makeCineStudy(1);
    const res = await fetch(`${s!.service.url}/api/studies/${study.studyInstanceUID}/reprocess`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{}' });
    assert.equal(res.status, 202);
    const { jobId } = (await res.json()) as { jobId: number };
    await waitFor('reprocessed', async () => s!.processor.calls.length === 2 && (await s!.service.store.get(jobId))?.state === 'done');
    const instances = await s!.client.getJson<Array<{ MainDicomTags: { Modality: string } }>>(`/studies/${(await s!.service.store.get(jobId))!.orthancStudyId}/series`);
    assert.deepEqual(instances.map((x) => x.MainDicomTags.Modality).sort(), ['MR', 'SEG', 'SR']);
    const seg = instances.find((x) => x.MainDicomTags.Modality === 'SEG') as unknown as { Instances: string[] };
    assert.equal(seg.Instances.length, 1, 'one SEG instance, not two');
  });

  test('a job queued for another model is skipped with its reason', async () => {
    const { job } = (await s!.service.store.enqueue({ studyInstanceUID: '1.2.3.99', modelKey: 'pulse-lite@0.9.0', source: 'cli' }));
    s!.service.worker.notify();
    const skipped = await waitFor('skipped', async () => (await s!.service.store.get(job.id))?.state === 'skipped' && (await s!.service.store.get(job.id)));
    assert.equal(skipped.reason, 'queued for model pulse-lite@0.9.0; this service runs stand-in@1.0.0');
  });

  test('the HTTP API lists jobs by state, serves health, metrics and the dashboard', async () => {
    const list = (await (await fetch(`${s!.service.url}/api/jobs?state=skipped`)).json()) as { jobs: Array<{ state: string; reason: string }> };
    assert.equal(list.jobs.length, 2);
    assert.equal(list.jobs[0]!.state, 'skipped');
    assert.equal((await fetch(`${s!.service.url}/api/jobs?state=nonsense`)).status, 400);
    assert.equal((await fetch(`${s!.service.url}/api/jobs/99999`)).status, 404);
    const health = (await (await fetch(`${s!.service.url}/health`)).json()) as { ok: boolean; orthanc: { reachable: boolean }; jobs: Record<string, number> };
    assert.equal(health.ok, true);
    assert.equal(health.orthanc.reachable, true);
    assert.equal(health.jobs.done, 1);
    const metrics = await (await fetch(`${s!.service.url}/metrics`)).text();
    assert.match(metrics, /pulse_jobs\{state="done"\} 1/);
    assert.match(metrics, /pulse_job_stage_duration_seconds_bucket\{le="[^"]+",stage="retrieve",worker="[^"]+"\}/);
    assert.doesNotMatch(metrics, /Test\^Patient|TEST1/);
    const html = await (await fetch(`${s!.service.url}/`)).text();
    assert.match(html, /<table class="jobs">/);
    assert.match(html, /Modality CT is not one of MR/);
    assert.doesNotMatch(html, /Test\^Patient|TEST1|TEST2/, 'no patient data on the dashboard');
    assert.equal((await fetch(`${s!.service.url}/webhook/stable-study`, { method: 'POST' })).status, 404, 'the webhook is off without a secret');
  });

  test('a study that holds only our own outputs is skipped as such, never processed', async () => {
    // Outputs whose source images were deleted (or copied to another archive) arrive on their own:
    // the router must recognise them as ours, not judge them as candidate series.
    const source = makeCineStudy(41);
    const outputs = await standInProcessor().process(source.files.map((bytes, k) => ({ source: `f${k}`, bytes })));
    const calls = s!.processor.calls.length;
    await s!.client.uploadInstance(outputs.seg!);
    await s!.client.uploadInstance(outputs.sr);
    const job = await jobFor(s!, source.studyInstanceUID, ['done', 'failed', 'skipped']);
    assert.equal(job.state, 'skipped');
    assert.equal(job.reason, 'the study holds only PULSE outputs');
    assert.equal(s!.processor.calls.length, calls, 'the processor never saw it');
  });
});

test('compressed instances are retrieved as stored; the fallback asks Orthanc to transcode, UIDs kept', async () => {
  const orthanc = await startTestOrthanc({});
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const read = (bytes: Uint8Array) => dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
    // As stored: Orthanc does not decode the JPEG 2000 (Orthanc 1.10.1 + GDCM can crash doing so).
    const j2k = await client.uploadInstance(readFileSync(join(sharedData, 'dicom-corpus', 'pydicom', 'MR_small_jp2klossless.dcm')));
    const stored = await client.getJson<{ FileSize: number }>(`/instances/${j2k.ID}`);
    const [asStored] = await new OrthancRestClient({ url: orthanc.url, timeoutMs: 5000 }).retrieveSeriesAsStored('1.3.6.1.4.1.5962.1.2.4.20040826185059.5457', '1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457', {
      expectedFileSizes: [stored.FileSize],
    });
    assert.equal(read(asStored!).meta['00020010'].Value[0], '1.2.840.10008.1.2.4.90');
    // The RLE file holds the same image (same SOP Instance UID): remove the JPEG 2000 one first.
    await client.delete('instances', j2k.ID);
    // Transcoded (RLE, which Orthanc's own DCMTK decodes): Explicit VR Little Endian, same SOP Instance UID, nothing stored.
    const rle = await client.uploadInstance(readFileSync(join(sharedData, 'dicom-corpus', 'pydicom', 'MR_small_RLE.dcm')));
    const before = (await client.listInstances(rle.ParentSeries)).length;
    const transcoded = await client.instanceTranscoded(rle.ID);
    const dataset = read(transcoded);
    assert.equal(dataset.meta['00020010'].Value[0], '1.2.840.10008.1.2.1');
    const uid = await client.getJson<{ MainDicomTags: { SOPInstanceUID: string } }>(`/instances/${rle.ID}`);
    assert.equal(dataset.dict['00080018'].Value[0], uid.MainDicomTags.SOPInstanceUID);
    assert.equal((await client.listInstances(rle.ParentSeries)).length, before, 'nothing new stored in Orthanc');
  } finally {
    await orthanc.stop();
  }
});

describe('webhook alone', () => {
  let s: Setup | undefined;
  before(async () => {
    s = await setup({ webhook: true, changesFeed: false, forwardToSelf: true, config: { forward: { modality: 'self' } } });
  });
  after(() => teardown(s));

  test('the Lua script announces the stable study and the service processes it', async () => {
    const study = makeCineStudy(3);
    const studyId = await uploadStudy(s!.client, study);
    const job = await jobFor(s!, study.studyInstanceUID, ['done', 'failed', 'skipped']).catch((error: Error) => {
      throw new Error(`${error.message}\nOrthanc log:\n${s!.orthanc.logTail(20)}`);
    });
    assert.equal(job.state, 'done', job.reason ?? '');
    assert.equal(job.source, 'webhook');
    assert.deepEqual(await seriesModalities(s!.client, studyId), ['MR', 'SEG', 'SR']);
    assert.equal(job.outcome!.forwarded, true, 'outputs sent to the configured DICOM destination');
    assert.ok(typeof job.timings.forward === 'number');
  });

  test('the webhook refuses a wrong secret and a malformed body', async () => {
    const post = (headers: Record<string, string>, body: string) => fetch(`${s!.service.url}/webhook/stable-study`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...headers }, body });
    const announcement = '{"orthancStudyId":"0a1b2c3d-0000","studyInstanceUID":"1.2.3.4","lastUpdate":"20260101T000000"}';
    assert.equal((await post({ 'X-Pulse-Secret': 'wrong-secret-value' }, announcement)).status, 401);
    assert.equal((await post({}, announcement)).status, 401);
    assert.equal((await post({ 'X-Pulse-Secret': SECRET }, '{"orthancStudyId":"0a1b2c3d-0000"}')).status, 400);
    assert.equal((await post({ 'X-Pulse-Secret': SECRET }, '{"orthancStudyId":"x;rm","studyInstanceUID":"1.2"}')).status, 400);
    // A study Orthanc no longer holds is queued, then skipped with its reason.
    const res = await post({ 'X-Pulse-Secret': SECRET }, announcement);
    assert.equal(res.status, 202);
    const job = await jobFor(s!, '1.2.3.4', ['skipped', 'failed', 'done']);
    assert.equal(job.state, 'skipped');
    assert.equal(job.reason, 'the study is no longer in Orthanc');
  });
});

describe('failures', () => {
  let s: Setup | undefined;
  before(async () => {
    s = await setup({ webhook: false, changesFeed: true, delayMs: 1500, config: { queue: { maxAttempts: 30 } } });
  });
  after(() => teardown(s));

  test('Orthanc stopped for a while, then restarted: the job retries and completes', async () => {
    const study = makeCineStudy(4);
    await uploadStudy(s!.client, study);
    await jobFor(s!, study.studyInstanceUID, ['running']);
    // The stand-in takes 1.5 s: stop Orthanc while it works, so storing the results fails.
    await s!.orthanc.stop({ keepStorage: true });
    try {
      const waiting = await jobFor(s!, study.studyInstanceUID, ['queued'], 15_000);
      assert.match(waiting.reason!, /^retry \d+ in \d+ ms: UpstreamUnavailableError: Orthanc at .* is unreachable/);
      await new Promise((r) => setTimeout(r, 1500));
    } finally {
      await s!.orthanc.start();
    }
    const job = await jobFor(s!, study.studyInstanceUID, ['done', 'failed'], 30_000);
    assert.equal(job.state, 'done', job.reason ?? '');
    assert.ok(job.retries >= 1, 'retried while Orthanc was down');
    assert.equal(job.attempts, 1, 'waiting for Orthanc spent no attempt');
    assert.deepEqual(await seriesModalities(s!.client, job.orthancStudyId!), ['MR', 'SEG', 'SR']);
  });

  test('a corrupt study ends as a failed job with its reason, and the next study is processed', async () => {
    const corrupt = makeCineStudy(5, { shortPixelData: true });
    const good = makeCineStudy(6);
    await uploadStudy(s!.client, corrupt);
    await uploadStudy(s!.client, good);
    const failed = await jobFor(s!, corrupt.studyInstanceUID, ['done', 'failed', 'skipped']);
    assert.equal(failed.state, 'failed');
    assert.match(failed.reason!, /BadInputError/);
    assert.equal(failed.attempts, 1, 'bad input is not retried');
    const done = await jobFor(s!, good.studyInstanceUID, ['done', 'failed', 'skipped']);
    assert.equal(done.state, 'done', done.reason ?? '');
  });
});

test('Orthanc refusing to send a study (a 4xx from WADO-RS) fails the job as bad input, once, not as an internal error', async () => {
  // A DICOMweb root Orthanc does not serve: routing over REST works, every WADO-RS answers 404.
  const s = await setup({ webhook: false, changesFeed: true, config: { orthanc: { url: 'http://placeholder', dicomWebRoot: '/no-dicom-web-here' } } });
  try {
    const study = makeCineStudy(7);
    await uploadStudy(s.client, study);
    const job = await jobFor(s, study.studyInstanceUID, ['done', 'failed', 'skipped']);
    assert.equal(job.state, 'failed');
    assert.match(job.reason!, /^BadInputError: Orthanc refused to send series .*: Orthanc answered 404 to GET \/no-dicom-web-here\/studies\//);
    assert.equal(job.attempts, 1, 'bad input is not retried');
    assert.deepEqual(s.processor.calls, [], 'the pipeline never ran');
  } finally {
    await teardown(s);
  }
});
