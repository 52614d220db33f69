/**
 * A calibration in the service runs in a worker thread: while it reads and fits, the service's own
 * thread keeps answering /healthz and keeps renewing the lease of a running job (the heartbeat that
 * stops another replica from taking the job over). This test shares the service's thread, so it
 * observes what the service could do: on the main thread the fit gave the event loop one turn per
 * unit of work (one lease renewal at most between two progress steps); in a thread many. A running
 * calibration can be cancelled, and then stores nothing. Real Orthanc, real model, K = 2 small studies.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthReferenceSeg } from '../src/cli/commands/synth.js';
import { ConfigSchema } from '../src/config/schema.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { createLogger } from '../src/service/logger.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import { startService } from '../src/service/service.js';
import type { StudyProcessor } from '../src/service/study-job.js';
import { generateStudy, type SynthStudy } from '../src/synth/index.js';
import { startTestOrthanc } from './support/orthanc.js';
import { bundledManifest } from './support/paths.js';
import { standInProcessor, waitFor } from './service-support.js';

const ADMIN = 'calibration-thread-admin-token-0123456789';
const shifted = (seed: number) => generateStudy({ seed, group: 'NOR', domain: 'vendor-shifted-mri', slices: 6, phases: 6 });

async function upload(client: OrthancRestClient, study: SynthStudy, withReference: boolean): Promise<void> {
  for (const file of study.files) await client.uploadInstance(file.bytes);
  if (withReference) await client.uploadInstance(synthReferenceSeg(study, 'ed-es'));
}

test('a calibration fit runs off the main thread: /healthz answers and the job heartbeat renews between progress steps; cancel stores nothing', { skip: existsSync(bundledManifest) ? false : 'no bundled model' }, async (t) => {
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-cal-thread-'));
  // A short lease (renewed every third of it) so that renewals are frequent events to count.
  const config = ConfigSchema.parse({
    orthanc: { url: orthanc.url },
    dataDir,
    server: { port: 0, auth: { adminTokens: [ADMIN] }, rateLimit: { reads: 1_000_000 } },
    changesFeed: { enabled: false },
    queue: { pollIntervalMs: 200, leaseMs: 600 },
  });
  // A job that stays running until the test lets it finish: its lease must be renewed meanwhile.
  const standIn = standInProcessor();
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const processor: StudyProcessor = {
    model: standIn.model,
    async process(instances) {
      const outputs = standIn.process(instances);
      await released;
      return outputs;
    },
  };
  const service = await startService({ config, processor, logger: createLogger('error', { silent: true }) });
  t.after(async () => {
    release();
    await service.stop(1000);
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });
  const api = async <T>(method: string, path: string, body?: unknown): Promise<{ status: number; json: T }> => {
    const res = await fetch(`${service.url}${path}`, {
      method,
      headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${ADMIN}` },
      ...(method === 'GET' ? {} : { body: JSON.stringify(body ?? {}) }),
    });
    return { status: res.status, json: (await res.json()) as T };
  };
  type Run = { state: string; done: number; total: number; what: string; error?: string; profile?: { id: string } };

  const client = new OrthancRestClient({ url: orthanc.url });
  const annotated = [shifted(821), shifted(822)];
  for (const study of annotated) await upload(client, study, true);
  const plain = shifted(823);
  await upload(client, plain, false);
  const uids = annotated.map((s) => s.truth.studyInstanceUID);

  // Cancelled while it runs: the run says so, and nothing is stored or activated.
  const first = await api<{ run: number }>('POST', '/api/calibrations', { studyInstanceUIDs: uids });
  assert.equal(first.status, 202);
  assert.equal((await api('POST', `/api/calibrations/runs/${first.json.run}/cancel`)).status, 202);
  const cancelled = await waitFor('the cancelled run', async () => {
    const run = (await api<Run>('GET', `/api/calibrations/runs/${first.json.run}`)).json;
    return run.state !== 'running' && run;
  }, 120_000);
  assert.equal(cancelled.state, 'cancelled', cancelled.error);
  const listed = (await api<{ active: string[]; calibrations: unknown[] }>('GET', '/api/calibrations')).json;
  assert.deepEqual(listed, { active: [], calibrations: [] });
  assert.equal((await api('POST', `/api/calibrations/runs/${first.json.run}/cancel`)).status, 409);

  // A job running (its processor waits for the test) while the calibration runs.
  const asked = await api<{ jobId: number }>('POST', `/api/studies/${plain.truth.studyInstanceUID}/reprocess`);
  assert.equal(asked.status, 202);
  await waitFor('the job running', () => standIn.calls.length > 0, 60_000);

  const started = await api<{ run: number }>('POST', '/api/calibrations', { studyInstanceUIDs: uids });
  assert.equal(started.status, 202);
  // One event log, in the order this thread saw things: progress steps of the run, /healthz answers,
  // and renewals of the job's lease (its leaseUntil moved).
  const events: string[] = [];
  let lastDone = -1;
  let lastLease = (await service.store.get(asked.json.jobId))!.leaseUntil;
  let run: Run;
  for (;;) {
    const health = await fetch(`${service.url}/healthz`);
    if (health.status === 200) events.push('healthz');
    const lease = (await service.store.get(asked.json.jobId))!.leaseUntil;
    if (lease !== lastLease) events.push('lease');
    lastLease = lease;
    run = (await api<Run>('GET', `/api/calibrations/runs/${started.json.run}`)).json;
    if (run.done !== lastDone) events.push(`progress ${run.done}/${run.total} ${run.what}`);
    lastDone = run.done;
    if (run.state !== 'running') break;
  }
  release();
  assert.equal(run.state, 'done', run.error);
  assert.ok(run.profile?.id, 'the calibration was stored');

  // Between two progress steps of the thread's work (reading, features, folds, final fit), this
  // thread answered /healthz and renewed the lease more than once.
  const threadSteps = events.map((e, i) => [e, i] as const).filter(([e]) => /^progress .*(reading|features|scored|fold|final)/.test(e)).map(([, i]) => i);
  assert.ok(threadSteps.length >= 2, `progress steps seen: ${events.filter((e) => e.startsWith('progress')).join('; ')}`);
  const gaps = threadSteps.slice(1).map((end, i) => events.slice(threadSteps[i]! + 1, end));
  const lively = gaps.filter((gap) => gap.filter((e) => e === 'lease').length >= 2 && gap.filter((e) => e === 'healthz').length >= 2);
  assert.ok(lively.length >= 1, `no gap between progress steps with 2+ renewals and 2+ health answers: ${JSON.stringify(gaps.map((g) => ({ healthz: g.filter((e) => e === 'healthz').length, lease: g.filter((e) => e === 'lease').length })))}`);
  const job = await waitFor('the job done', async () => {
    const j = await service.store.get(asked.json.jobId);
    return j?.state === 'done' && j;
  }, 60_000);
  assert.equal(job.attempts, 1, 'the job was never taken over');
});
