/**
 * A FHIR report the receiver does not take is kept and sent again, not lost: the outbox under the
 * data folder holds it until a later pass delivers it, across a service restart, and gives up only
 * after fhir.keepUndeliveredHours (moved to failed/). The receiver is a loopback HTTP server whose
 * answers the tests choose; the service runs the real pipeline on a real Orthanc.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema } from '../src/config/schema.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { postFhirBundle } from '../src/service/fhir-notifier.js';
import { FhirOutbox } from '../src/service/fhir-outbox.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { createPipelineProcessor } from '../src/service/pipeline-processor.js';
import { startService } from '../src/service/service.js';
import { generateStudy } from '../src/synth/index.js';
import { startTestOrthanc } from './support/orthanc.js';
import { bundledManifest } from './support/paths.js';
import { waitFor } from './service-support.js';

/** A FHIR receiver that answers `status()` to every POST and keeps what it took. */
async function receiver(status: () => number): Promise<{ url: string; taken: string[]; posts: () => number; close(): Promise<void> }> {
  const taken: string[] = [];
  let posts = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      posts++;
      const code = status();
      if (code < 300) taken.push(body);
      res.statusCode = code;
      res.end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/fhir`,
    taken,
    posts: () => posts,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

const quiet = createLogger('error', { silent: true });
const bundle = (n: number, note = '') => ({ resourceType: 'Bundle', id: `pulse-${1000 + n}`, type: 'transaction', note });

test('a report the receiver refused waits in the outbox and is delivered by a later pass; one pass sends each report once', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-fhir-outbox-'));
  let answer = 503;
  const ris = await receiver(() => answer);
  try {
    const outbox = new FhirOutbox(dir, 3_600_000);
    const send = (b: unknown) => postFhirBundle(b, { url: ris.url, attempts: 1 });
    outbox.add(7, bundle(1), { delivered: false, attempts: 5, status: 503, reason: 'HTTP 503' });
    outbox.add(8, bundle(2), { delivered: false, attempts: 5, reason: 'timed out' });
    assert.equal(outbox.pending(), 2);

    assert.deepEqual(await outbox.redeliver(send, quiet), { delivered: 0, waiting: 2, expired: 0, unreadable: 0 });
    assert.equal(ris.posts(), 2, 'one attempt per report per pass');
    assert.equal(outbox.pending(), 2);

    answer = 200;
    assert.deepEqual(await outbox.redeliver(send, quiet), { delivered: 2, waiting: 0, expired: 0, unreadable: 0 });
    assert.equal(outbox.pending(), 0);
    assert.deepEqual(ris.taken.map((b) => (JSON.parse(b) as { id: string }).id), ['pulse-1001', 'pulse-1002'], 'sent as kept, oldest job first');
  } finally {
    await ris.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a pass cut short by the service stopping leaves the entries as they were', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-fhir-outbox-'));
  const ris = await receiver(() => 200);
  try {
    const outbox = new FhirOutbox(dir, 3_600_000);
    outbox.add(7, bundle(1), { delivered: false, attempts: 5, status: 503, reason: 'HTTP 503' });
    outbox.add(8, bundle(2), { delivered: false, attempts: 5, reason: 'timed out' });
    const before = readdirSync(dir).sort().map((f) => readFileSync(join(dir, f), 'utf8'));
    const stopping = new AbortController();
    stopping.abort();
    const count = await outbox.redeliver((b) => postFhirBundle(b, { url: ris.url, attempts: 1, signal: stopping.signal }), quiet);
    assert.deepEqual(count, { delivered: 0, waiting: 2, expired: 0, unreadable: 0 });
    assert.equal(ris.posts(), 0);
    assert.deepEqual(readdirSync(dir).sort().map((f) => readFileSync(join(dir, f), 'utf8')), before, 'last reasons and attempts kept');
  } finally {
    await ris.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a newer report of the same study and model replaces the waiting one; a direct delivery settles it', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-fhir-outbox-'));
  const ris = await receiver(() => 200);
  try {
    const outbox = new FhirOutbox(dir, 3_600_000);
    outbox.add(7, bundle(1, 'first run'), { delivered: false, attempts: 5, reason: 'HTTP 503' });
    outbox.add(9, bundle(1, 'reprocessed'), { delivered: false, attempts: 3, reason: 'HTTP 502' });
    assert.equal(outbox.pending(), 1);
    await outbox.redeliver((b) => postFhirBundle(b, { url: ris.url, attempts: 1 }), quiet);
    assert.deepEqual(ris.taken.map((b) => (JSON.parse(b) as { note: string }).note), ['reprocessed'], 'the older report never overwrites the newer one');

    outbox.add(10, bundle(3), { delivered: false, attempts: 5, reason: 'HTTP 503' });
    outbox.settle(bundle(3));
    assert.equal(outbox.pending(), 0);
  } finally {
    await ris.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a report undelivered for longer than the keep time, or an unreadable entry, moves to failed/ without being sent', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-fhir-outbox-'));
  const ris = await receiver(() => 200);
  try {
    let now = Date.parse('2026-11-30T08:00:00Z');
    const outbox = new FhirOutbox(dir, 72 * 3_600_000, () => now);
    outbox.add(7, bundle(1), { delivered: false, attempts: 5, reason: 'HTTP 401' });
    writeFileSync(join(dir, 'pulse-1002.json'), '{"jobId": 8, "bund');
    now += 73 * 3_600_000;
    outbox.add(9, bundle(3), { delivered: false, attempts: 5, reason: 'HTTP 503' });
    const count = await outbox.redeliver((b) => postFhirBundle(b, { url: ris.url, attempts: 1 }), quiet);
    assert.deepEqual(count, { delivered: 1, waiting: 0, expired: 1, unreadable: 1 });
    assert.equal(ris.posts(), 1, 'only the report within the keep time was sent');
    assert.deepEqual(readdirSync(join(dir, 'failed')).sort(), ['pulse-1001.json', 'pulse-1002.json']);
    assert.equal(outbox.pending(), 0);
  } finally {
    await ris.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('the service keeps a report the receiver refused and delivers it after a restart, once the receiver is back', { skip: existsSync(bundledManifest) ? false : 'the bundled model is missing' }, async () => {
  let answer = 503;
  const ris = await receiver(() => answer);
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-fhir-outbox-service-'));
  const config = ConfigSchema.parse({
    orthanc: { url: orthanc.url },
    dataDir,
    server: { port: 0 },
    changesFeed: { pollIntervalMs: 200 },
    queue: { pollIntervalMs: 200 },
    fhir: { url: ris.url, attempts: 2, backoffBaseMs: 10, redeliverEverySeconds: 0.3 },
  });
  const start = () => startService({ config, processor: createPipelineProcessor({ fhir: true }), logger: quiet });
  let service = await start();
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const study = generateStudy({ seed: 23, slices: 5, phases: 6 });
    for (const file of study.files) await client.uploadInstance(file.bytes);
    const job = await waitFor('job finished', async () => {
      const j = (await service.store.findByStudy(study.truth.studyInstanceUID))[0];
      return j !== undefined && ['done', 'failed', 'skipped'].includes(j.state) && j;
    }, 120_000);
    assert.equal(job.state, 'done', job.reason ?? '');
    assert.equal(job.outcome!.fhirDelivered, false, 'the receiver refused every attempt');
    assert.equal(readdirSync(join(dataDir, 'fhir-outbox')).filter((f) => f.endsWith('.json')).length, 1, 'the report waits in the outbox');
    // Passes keep trying while the receiver is down; the report stays.
    await waitFor('a redelivery attempt', () => ris.posts() > 2, 10_000);
    const metrics = await (await fetch(`${service.url}/metrics`)).text();
    assert.match(metrics, /^pulse_fhir_outbox_pending 1$/m);

    await service.stop(1000);
    answer = 200;
    service = await start();
    await waitFor('delivery from the outbox', () => ris.taken.length === 1, 20_000);
    const report = JSON.parse(ris.taken[0]!) as { entry: Array<{ resource: { resourceType: string; imagingStudy?: Array<{ identifier: { value: string } }> } }> };
    const diagnostic = report.entry.find((e) => e.resource.resourceType === 'DiagnosticReport')!.resource;
    assert.equal(diagnostic.imagingStudy![0]!.identifier.value, `urn:oid:${study.truth.studyInstanceUID}`);
    await waitFor('outbox empty', () => readdirSync(join(dataDir, 'fhir-outbox')).filter((f) => f.endsWith('.json')).length === 0, 5_000);
  } finally {
    await service.stop(1000);
    await orthanc.stop();
    await ris.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
