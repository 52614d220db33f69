/**
 * The faults real sites have, each against a real Orthanc 1.10 and the real SQLite job store: a
 * WADO-RS answer cut short, a job store that cannot be written, Orthanc without our user metadata,
 * two patients' studies sharing a StudyInstanceUID, an Orthanc outage longer than the old retry
 * budget, and a study over the configured limits.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { ConfigSchema, type ConfigInput } from '../src/config/schema.js';
import { freePort } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import type { Job, JobStore } from '../src/queue/job-store.js';
import { SqliteJobStore } from '../src/queue/sqlite-job-store.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { startService, type RunningService } from '../src/service/service.js';
import type { StudyProcessor } from '../src/service/study-job.js';
import { startCuttingProxy, type CuttingProxy } from './support/cutting-proxy.js';
import { startFaultProxy, type FaultProxy } from './support/fault-proxy.js';
import { startTestOrthanc, type RunningOrthanc } from './support/orthanc.js';
import { makeCineStudy, seriesModalities, standInProcessor, uploadStudy, waitFor } from './service-support.js';

const logger = createLogger('error', { silent: true });

interface Running {
  service: RunningService;
  dataDir: string;
  /** Instances each call of the processor received. */
  received: number[];
}

/** The stand-in processor, counting what it receives; `during` runs while a study is processed. */
function countingProcessor(received: number[], during?: () => Promise<void> | void): StudyProcessor {
  const inner = standInProcessor();
  return {
    model: inner.model,
    async process(instances) {
      received.push(instances.length);
      await during?.();
      return inner.process(instances);
    },
  };
}

async function serve(orthancUrl: string, config: ConfigInput = {}, extra: { store?: (path: string) => JobStore; during?: () => Promise<void> | void; dataDir?: string } = {}): Promise<Running> {
  const dataDir = extra.dataDir ?? mkdtempSync(join(tmpdir(), 'pulse-faults-'));
  const received: number[] = [];
  const parsed = ConfigSchema.parse({
    ...config,
    orthanc: { url: orthancUrl, timeoutMs: 5000 },
    dataDir,
    server: { port: await freePort() },
    // 'now': studies of the file's earlier tests (same Orthanc) are not queued again.
    changesFeed: { pollIntervalMs: 200, startFrom: 'now' },
    queue: { pollIntervalMs: 100, leaseMs: 2000, backoff: { baseMs: 200, maxMs: 800, jitter: 0.2 }, ...config.queue },
  });
  const store = extra.store?.(join(dataDir, 'queue.sqlite'));
  const service = await startService({ config: parsed, processor: countingProcessor(received, extra.during), logger, ...(store ? { store } : {}) });
  return { service, dataDir, received };
}

async function stop(r: Running | undefined): Promise<void> {
  if (!r) return;
  await r.service.stop(500);
  rmSync(r.dataDir, { recursive: true, force: true });
}

async function finished(r: Running, studyUID: string, timeoutMs = 40_000): Promise<Job> {
  return waitFor(`job of ${studyUID} finished`, async () => {
    const job = (await r.service.store.findByStudy(studyUID))[0];
    return job !== undefined && ['done', 'failed', 'skipped'].includes(job.state) && job;
  }, timeoutMs);
}

async function readiness(r: Running): Promise<{ status: number; reasons: string[] }> {
  const res = await fetch(`${r.service.url}/readyz`);
  const { checks } = (await res.json()) as { checks: Record<string, { ok: boolean; reason?: string }> };
  return { status: res.status, reasons: Object.values(checks).flatMap((c) => (c.ok ? [] : [c.reason ?? ''])) };
}

async function studyIdOf(client: OrthancRestClient, studyUID: string): Promise<string> {
  const found = (await client.request('POST', '/tools/lookup', studyUID, 'text/plain')) as Array<{ ID: string; Type: string }>;
  return found.find((f) => f.Type === 'Study')!.ID;
}

describe('against an Orthanc that declares the PULSE metadata', () => {
  let orthanc: RunningOrthanc;
  let client: OrthancRestClient;
  before(async () => {
    orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
    client = new OrthancRestClient({ url: orthanc.url });
  });
  after(() => orthanc.stop());

  test('a WADO-RS answer cut short (no closing boundary) is retried, never processed as a shorter study', async () => {
    let proxy: CuttingProxy | undefined;
    let r: Running | undefined;
    try {
      // The first series retrieval stops after 20 kB, between two instances' parts, with no framing.
      proxy = await startCuttingProxy(orthanc.url, (method, path) => method === 'GET' && /\/dicom-web\/studies\/[^/]+\/series\/[^/]+$/.test(path), { keepBytes: 20_000, times: 1 });
      r = await serve(proxy.url);
      const study = makeCineStudy(301);
      await uploadStudy(client, study);
      const job = await finished(r, study.studyInstanceUID);
      assert.equal(proxy.cuts, 1, 'the answer was cut once');
      assert.equal(job.state, 'done', job.reason ?? '');
      assert.deepEqual(r.received, [48], 'the processor only ever saw the whole study');
      assert.equal(job.retries, 1, 'one retry after the cut answer');
      assert.equal(job.attempts, 1, 'the retry spent no attempt');
    } finally {
      await stop(r);
      await proxy?.close();
    }
  });

  test('a JSON answer of Orthanc cut short (or empty) is retried, never an internal error', async () => {
    let proxy: FaultProxy | undefined;
    let r: Running | undefined;
    try {
      // This study's series list (routing) comes back empty, its instance list cut after 10 bytes. (Only
      // this study's: the earlier tests' studies become stable again after their outputs are stored.)
      let studyId = '';
      proxy = await startFaultProxy(orthanc.url);
      proxy.cut((method, path) => method === 'GET' && path === `/studies/${studyId}/series`, { keepBytes: 0, times: 1 });
      proxy.cut((method, path) => method === 'GET' && path === `/studies/${studyId}/instances`, { keepBytes: 10, times: 1 });
      r = await serve(proxy.url);
      const study = makeCineStudy(310);
      studyId = await uploadStudy(client, study);
      const job = await finished(r, study.studyInstanceUID);
      assert.equal(proxy.stats.cuts, 2, 'two answers were cut');
      assert.equal(job.state, 'done', job.reason ?? '');
      assert.ok(job.retries >= 1, `retried (${job.retries})`);
      assert.equal(job.attempts, 1, 'the retries spent no attempt');
    } finally {
      await stop(r);
      await proxy?.close();
    }
  });

  test('a job store that cannot be written (SQLITE_FULL) does not end the service; the job is recorded once it can', async () => {
    let full = false;
    let refusedOutcomes = 0;
    let r: Running | undefined;
    const writes = new Set(['enqueue', 'claim', 'renewLease', 'complete', 'skip', 'fail', 'retry', 'recoverExpiredLeases', 'releaseOwner', 'setValue']);
    const failingWhenFull = (path: string): JobStore => {
      const real = new SqliteJobStore(path);
      return new Proxy(real, {
        get(target, property, receiver) {
          const value = Reflect.get(target, property, receiver) as unknown;
          if (typeof value !== 'function') return value;
          return (...args: unknown[]) => {
            if (full && writes.has(String(property))) {
              if (['complete', 'skip', 'fail', 'retry'].includes(String(property))) refusedOutcomes++;
              throw new Database.SqliteError('database or disk is full', 'SQLITE_FULL');
            }
            return (value as (...a: unknown[]) => unknown).apply(target, args);
          };
        },
      });
    };
    try {
      // The disk fills while the first attempt processes the study: its outcome cannot be written.
      r = await serve(orthanc.url, {}, { store: failingWhenFull, during: () => void (r!.received.length === 1 && (full = true)) });
      const study = makeCineStudy(302);
      await uploadStudy(client, study);
      const down = await waitFor('readiness reports the job store', async () => {
        const ready = await readiness(r!);
        return ready.status === 503 && ready.reasons.some((reason) => /SQLITE_FULL/.test(reason)) && ready;
      }, 30_000);
      assert.match(down.reasons.join('\n'), /queue not writable|job store cannot be written/);
      await waitFor('the outcome refused', async () => refusedOutcomes > 0, 30_000);
      const health = await fetch(`${r.service.url}/healthz`);
      assert.equal(health.status, 200, 'the service is alive, only not ready');
      const stuck = (await r.service.store.findByStudy(study.studyInstanceUID))[0]!;
      assert.equal(stuck.state, 'running', 'nothing was recorded: the job is not done, skipped or failed');

      full = false;
      const job = await finished(r, study.studyInstanceUID);
      assert.equal(job.state, 'done', `recorded as done, not "${job.reason}"`);
      assert.equal(job.attempts, 2, 'it ran again once the lease of the unrecorded attempt ran out');
      assert.ok(job.outcome?.segSOPInstanceUID !== undefined);
      assert.deepEqual(await seriesModalities(client, await studyIdOf(client, study.studyInstanceUID)), ['MR', 'SEG', 'SR'], 'no duplicates');
      await waitFor('ready again', async () => (await readiness(r!)).status === 200, 10_000);
    } finally {
      full = false;
      await stop(r);
    }
  });

  test('two patients\' studies sharing one StudyInstanceUID make a conflict job with its reason', async () => {
    let r: Running | undefined;
    try {
      r = await serve(orthanc.url);
      const first = makeCineStudy(303, { patientId: 'CONFLICT-A' });
      const second = makeCineStudy(303, { patientId: 'CONFLICT-B' });
      await uploadStudy(client, first);
      await uploadStudy(client, second);
      const job = await waitFor('conflict recorded', async () => {
        const j = (await r!.service.store.findByStudy(first.studyInstanceUID))[0];
        return j?.state === 'failed' && j;
      }, 40_000);
      assert.match(job.reason!, /conflict: 2 Orthanc studies \([0-9a-f-]+, [0-9a-f-]+\) share this StudyInstanceUID under different patients/);
      assert.doesNotMatch(job.reason!, /CONFLICT-A|CONFLICT-B/, 'no patient data in the reason');
      assert.equal((await r.service.store.findByStudy(first.studyInstanceUID)).length, 1);
    } finally {
      await stop(r);
    }
  });

  test('two services sharing one job store: one reads the changes feed, every study is processed once', async () => {
    let a: Running | undefined;
    let b: Running | undefined;
    try {
      a = await serve(orthanc.url);
      b = await serve(orthanc.url, {}, { dataDir: a.dataDir });
      await waitFor('one leader', () => a!.service.listener!.isLeader !== b!.service.listener!.isLeader, 10_000);
      const studies = [makeCineStudy(307), makeCineStudy(308), makeCineStudy(309)];
      for (const study of studies) await uploadStudy(client, study);
      for (const study of studies) assert.equal((await finished(a, study.studyInstanceUID)).state, 'done');
      assert.equal(a.received.length + b.received.length, 3, `processed once each (${a.received.length} + ${b.received.length})`);
      assert.equal(a.service.listener!.isLeader && b.service.listener!.isLeader, false, 'never two readers');
    } finally {
      await b?.service.stop(500);
      await stop(a);
    }
  });

  for (const [limit, value, reason] of [
    ['maxInstances', 10, /over the configured limits: 48 instances \(limit 10\)/],
    ['maxBytes', 10_000, /over the configured limits: \d+ bytes stored \(limit 10000\)/],
    ['maxPixels', 5000, /over the configured limits: 12288 pixels to decode \(limit 5000\)/],
  ] as const) {
    test(`a study over the configured limits (${limit}) is refused with its reason before it is retrieved`, async () => {
      let r: Running | undefined;
      try {
        r = await serve(orthanc.url, { limits: { [limit]: value } });
        const study = makeCineStudy(limit === 'maxInstances' ? 304 : limit === 'maxBytes' ? 311 : 312);
        await uploadStudy(client, study);
        const job = await finished(r, study.studyInstanceUID);
        assert.equal(job.state, 'failed');
        assert.match(job.reason!, reason);
        assert.deepEqual(r.received, [], 'nothing was decoded');
        assert.equal(job.timings.retrieve, undefined, 'nothing was retrieved');
      } finally {
        await stop(r);
      }
    });
  }

  test('an Orthanc outage longer than the attempts allow spends time, not attempts, and the study is processed', async () => {
    let r: Running | undefined;
    let release: () => void = () => undefined;
    const held = new Promise<void>((resolve) => (release = resolve));
    try {
      // One attempt only: before, the first failure while Orthanc was down failed the study for good.
      r = await serve(orthanc.url, { queue: { maxAttempts: 1 } }, { during: () => held });
      const study = makeCineStudy(305);
      await uploadStudy(client, study);
      await waitFor('processing', async () => r!.received.length === 1, 30_000);
      await orthanc.stop({ keepStorage: true });
      release();
      await waitFor('a few retries while Orthanc is down', async () => ((await r!.service.store.findByStudy(study.studyInstanceUID))[0]?.retries ?? 0) >= 3, 20_000);
      assert.equal((await r.service.store.findByStudy(study.studyInstanceUID))[0]!.attempts <= 1, true);
      assert.match((await readiness(r)).reasons.join('\n'), /Orthanc (is )?unreachable/);
      await orthanc.start();
      const job = await finished(r, study.studyInstanceUID);
      assert.equal(job.state, 'done', job.reason ?? '');
      assert.equal(job.attempts, 1);
    } finally {
      release();
      await stop(r);
    }
  });
});

test('an Orthanc without the PULSE user metadata: studies are processed and stored, not marked, and readiness says why', async () => {
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1 });
  let r: Running | undefined;
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    r = await serve(orthanc.url);
    const ready = await waitFor('readiness names the missing metadata', async () => {
      const answer = await readiness(r!);
      return answer.status === 503 && answer;
    }, 10_000);
    assert.match(ready.reasons.join('\n'), /does not declare the user metadata PulseStatus, PulseDiagnosis, PulseModel, PulsePriority/);
    const study = makeCineStudy(306);
    await uploadStudy(client, study);
    const job = await finished(r, study.studyInstanceUID);
    assert.equal(job.state, 'done', job.reason ?? '');
    const studyId = await studyIdOf(client, study.studyInstanceUID);
    assert.deepEqual(await seriesModalities(client, studyId), ['MR', 'SEG', 'SR']);
    // Our outputs make the study stable again: it is not queued or processed a second time.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    assert.deepEqual(r.received, [48]);
    assert.equal((await r.service.store.findByStudy(study.studyInstanceUID))[0]!.state, 'done');
  } finally {
    await stop(r);
    await orthanc.stop();
  }
});

test('a data folder whose job store cannot be opened at start: the service starts, says why in /readyz, and opens it once it can', async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-faults-'));
  // Where the SQLite file goes, a folder: opening fails (SQLITE_CANTOPEN) as on a read-only or full disk.
  const blocker = join(dataDir, 'queue.sqlite');
  mkdirSync(blocker);
  let service: RunningService | undefined;
  try {
    const config = ConfigSchema.parse({ orthanc: { url: `http://127.0.0.1:${await freePort()}`, timeoutMs: 1000 }, dataDir, server: { port: await freePort() }, changesFeed: { pollIntervalMs: 200 }, queue: { pollIntervalMs: 100 } });
    service = await startService({ config, processor: standInProcessor(), logger });
    assert.equal((await fetch(`${service.url}/healthz`)).status, 200, 'alive');
    const r = { service } as Running;
    const down = await readiness(r);
    assert.equal(down.status, 503);
    assert.match(down.reasons.join('\n'), /queue not writable: SQLITE_CANTOPEN/);
    rmSync(blocker, { recursive: true });
    await waitFor('the store opens', async () => !(await readiness(r)).reasons.some((reason) => /queue/.test(reason)), 15_000);
    const { created } = await service.store.enqueue({ studyInstanceUID: '1.2.3', modelKey: service.modelKey, source: 'api' });
    assert.equal(created, true, 'the store works once opened');
  } finally {
    await service?.stop(500);
    rmSync(dataDir, { recursive: true, force: true });
  }
});
