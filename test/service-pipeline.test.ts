/**
 * End to end with the real pipeline and the bundled model: a synthetic cine study uploaded to a
 * real Orthanc comes back with the pipeline's SEG and SR in the same study, and the study is marked;
 * with reports.pdf on, the Encapsulated PDF is stored too, and with fhir.url set the FHIR Bundle is
 * posted (to a loopback server here) with its own secret.
 */
import { test } from 'node:test';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema } from '../src/config/schema.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService } from '../src/service/service.js';
import { generateStudy } from '../src/synth/index.js';
import { startTestOrthanc } from './support/orthanc.js';
import { bundledManifest } from './support/paths.js';
import { seriesModalities, waitFor } from './service-support.js';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { BadInputError } from '../src/core/errors.js';

test('a synthetic cine study gets the real SEG, SR and PDF in the same study, is marked, and its FHIR report is posted', { skip: existsSync(bundledManifest) ? false : 'the bundled model (models/pulse-lite/manifest.json) is missing' }, async () => {
  const posted: Array<{ auth: string | undefined; body: string }> = [];
  const ris = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      posted.push({ auth: req.headers.authorization, body });
      // The first POST meets an outage: the notifier retries.
      res.statusCode = posted.length === 1 ? 503 : 200;
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => ris.listen(0, '127.0.0.1', resolve));
  const risUrl = `http://127.0.0.1:${(ris.address() as AddressInfo).port}/fhir`;
  const processor = createPipelineProcessor({ pdf: true, fhir: true });
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-service-pipeline-'));
  const config = ConfigSchema.parse({
    orthanc: { url: orthanc.url },
    dataDir,
    server: { port: 0 },
    changesFeed: { pollIntervalMs: 200 },
    queue: { pollIntervalMs: 200 },
    reports: { pdf: true },
    fhir: { url: risUrl, secret: 'ris-secret-0042', backoffBaseMs: 10 },
  });
  const service = await startService({ config, processor, logger: createLogger('error', { silent: true }) });
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const study = generateStudy({ seed: 21, slices: 6, phases: 8 });
    let studyId = '';
    for (const file of study.files) studyId = (await client.uploadInstance(file.bytes)).ParentStudy;
    const job = await waitFor('job finished', async () => {
      const j = (await service.store.findByStudy(study.truth.studyInstanceUID))[0];
      return j !== undefined && ['done', 'failed', 'skipped'].includes(j.state) && j;
    }, 120_000);
    assert.equal(job.state, 'done', job.reason ?? '');
    assert.deepEqual(await seriesModalities(client, studyId), ['DOC', 'MR', 'SEG', 'SR']);
    assert.ok(job.outcome!.pdfSOPInstanceUID);
    assert.equal(job.outcome!.fhirDelivered, true);
    assert.equal(posted.length, 2);
    assert.equal(posted[1]!.auth, 'Bearer ris-secret-0042');
    const bundle = JSON.parse(posted[1]!.body) as { entry: Array<{ resource: { resourceType: string; imagingStudy?: Array<{ identifier: { value: string } }> } }> };
    const report = bundle.entry.find((e) => e.resource.resourceType === 'DiagnosticReport')!.resource;
    assert.equal(report.imagingStudy![0]!.identifier.value, `urn:oid:${study.truth.studyInstanceUID}`);
    const metadata = await client.getJson<Record<string, string>>(`/studies/${studyId}/metadata?expand`);
    assert.equal(metadata.PulseModel, service.modelKey);
    assert.equal(metadata.PulseDiagnosis, job.outcome!.diagnosis);
    assert.ok(job.outcome!.srSOPInstanceUID);
    assert.ok(Object.keys(job.timings).some((k) => k.startsWith('pipeline.')), JSON.stringify(job.timings));
  } finally {
    await service.stop(1000);
    await orthanc.stop();
    await new Promise<void>((resolve) => ris.close(() => resolve()));
    rmSync(dataDir, { recursive: true, force: true });
  }
});

test('in a worker thread the pipeline gives the same outputs as on the calling thread; bad input stays bad input', { skip: existsSync(bundledManifest) ? false : 'the bundled model is missing' }, async (t) => {
  const threaded = createPipelineProcessor();
  const direct = createPipelineProcessor({ inThread: false });
  try {
    const study = generateStudy({ seed: 22, slices: 5, phases: 6 });
    const instances = study.files.map((f, i) => ({ source: `file ${i}`, bytes: f.bytes }));
    // The main thread's event loop while the thread infers: it keeps turning (health checks answer).
    const delay = monitorEventLoopDelay({ resolution: 10 });
    delay.enable();
    const inThread = await threaded.process(instances);
    delay.disable();
    const onCaller = await direct.process(instances);
    t.diagnostic(`main-thread event-loop delay during threaded inference: max ${(delay.max / 1e6).toFixed(0)} ms, p99 ${(delay.percentile(99) / 1e6).toFixed(0)} ms; inference ${inThread.result.timings_ms.inference ?? '?'} ms`);
    assert.deepEqual({ ...inThread.result, timings_ms: {} }, { ...onCaller.result, timings_ms: {} });
    assert.deepEqual(Buffer.from(inThread.seg!).length, Buffer.from(onCaller.seg!).length);
    assert.equal(inThread.seg!.constructor, Uint8Array);
    await assert.rejects(threaded.process([{ source: 'garbage', bytes: new Uint8Array([1, 2, 3]) }]), (error: unknown) => error instanceof BadInputError);
  } finally {
    await threaded.close?.();
  }
});
