/**
 * Two `pulse serve` processes sharing one job store (SQLite, the same data folder), with the default
 * lease: one reads the changes feed; the one running a study is killed with SIGKILL; the other runs
 * the study again once the 15 s lease runs out (before, the default lease was 120 s) and it ends
 * processed exactly once. Runs the compiled CLI (dist/), like production.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema } from '../src/config/schema.js';
import { freePort } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import type { Job } from '../src/queue/job-store.js';
import { startTestOrthanc } from './support/orthanc.js';
import { projectRoot } from './support/paths.js';
import { listJobs, makeCineStudy, serveWithStandIn, seriesModalities, uploadStudy, waitFor } from './service-support.js';

const standIn = join(projectRoot, 'dist', 'test', 'service-stand-in.js');

function serve(orthancUrl: string, dataDir: string, port: number): ChildProcess {
  return serveWithStandIn(orthancUrl, dataDir, port, { PULSE_STANDIN_DELAY_MS: '4000', PULSE_QUEUE_POLL_MS: '200', PULSE_CHANGES_POLL_MS: '200', PULSE_LOG_LEVEL: 'warn', PULSE_RATE_LIMIT_READS: '100000' });
}

const jobs = (port: number): Promise<Job[]> => listJobs(port, 100);

test('two replicas on one job store: the one running a study is killed, the other finishes it once the default lease runs out', { skip: existsSync(standIn) ? false : 'build first' }, async () => {
  const leaseMs = ConfigSchema.parse({}).queue.leaseMs;
  assert.equal(leaseMs, 15_000, 'the default lease');
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-replicas-'));
  const children = new Map<number, { child: ChildProcess; port: number }>();
  try {
    for (let k = 0; k < 2; k++) {
      const port = await freePort();
      const child = serve(orthanc.url, dataDir, port);
      children.set(child.pid!, { child, port });
    }
    const ports = [...children.values()].map((c) => c.port);
    await waitFor('both listening', async () => (await Promise.all(ports.map((p) => fetch(`http://127.0.0.1:${p}/healthz`).then((r) => r.ok, () => false)))).every(Boolean), 30_000);
    const client = new OrthancRestClient({ url: orthanc.url });
    const study = makeCineStudy(401);
    await uploadStudy(client, study);

    const running = await waitFor('the study running', async () => (await jobs(ports[0]!)).find((j) => j.state === 'running'), 30_000, 100);
    // The lease owner is "host:pid:random": kill that process.
    const pid = Number(running.leaseOwner!.split(':')[1]);
    const victim = children.get(pid);
    assert.ok(victim, `the lease owner ${running.leaseOwner} is one of ours`);
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    await new Promise((done) => victim.child.once('exit', done));
    const survivor = [...children.values()].find((c) => c !== victim)!;

    const done = await waitFor('done by the survivor', async () => (await jobs(survivor.port)).find((j) => j.id === running.id && j.state === 'done'), 60_000, 200);
    assert.equal(done.attempts, 2, 'run again once, after the kill');
    assert.ok(done.leaseOwner === null);
    // Claimed again within the lease plus a few polls (slack for a loaded machine), not the old 120 s.
    assert.ok(done.startedAt! - killedAt < leaseMs + 15_000, `claimed again ${done.startedAt! - killedAt} ms after the kill`);
    const studyId = (await client.request('POST', '/tools/lookup', study.studyInstanceUID, 'text/plain') as Array<{ ID: string }>)[0]!.ID;
    assert.deepEqual(await seriesModalities(client, studyId), ['MR', 'SEG', 'SR'], 'one SEG and one SR');
  } finally {
    for (const { child } of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
