/**
 * Three `pulse serve` processes (each with its own data folder, as on three machines) sharing one
 * job store on a real PostgreSQL, in front of a real Orthanc, with the stand-in processor: 30 studies
 * arrive; one worker is killed with SIGKILL while it runs a study; PostgreSQL is restarted (pg_ctl
 * stop, 3 s down, start: every connection closed) while studies are running; without the outcome
 * write retried while the store is unreachable, studies finished in those 3 s ran twice. Every study ends processed exactly
 * once: one done job each, one processor call each (two for the killed one, run again by another
 * worker within the lease), one SEG and one SR each in Orthanc; the survivors count their own work
 * under their worker label in /metrics. Runs the compiled CLI (dist/), like production.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigSchema } from '../src/config/schema.js';
import { freePort } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { PostgresJobStore } from '../src/queue/postgres-job-store.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import type { Job } from '../src/queue/job-store.js';
import { startTestOrthanc } from './support/orthanc.js';
import { startTestPostgres } from './support/postgres.js';
import { projectRoot } from './support/paths.js';
import { makeCineStudy, serveWithStandIn, seriesModalities, uploadStudy, waitFor } from './service-support.js';

const standIn = join(projectRoot, 'dist', 'test', 'service-stand-in.js');
const STUDIES = 30;
/** Each study's time in the stand-in processor: long enough to kill a worker mid-study. */
const PROCESS_MS = 1500;

test('three workers on one PostgreSQL: 30 studies each processed exactly once through a SIGKILL of a worker and a PostgreSQL restart', { skip: existsSync(standIn) ? false : 'build first', timeout: 300_000 }, async () => {
  const leaseMs = ConfigSchema.parse({}).queue.leaseMs;
  const postgres = await startTestPostgres();
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dir = mkdtempSync(join(tmpdir(), 'pulse-pg-service-'));
  const callLog = join(dir, 'calls.txt');
  writeFileSync(callLog, '');
  // The test reads the shared queue directly (the services' API is down while PostgreSQL restarts).
  const store = new PostgresJobStore({ url: postgres.url });
  const children = new Map<number, { child: ChildProcess; port: number }>();
  try {
    for (let k = 0; k < 3; k++) {
      const port = await freePort();
      const child = serveWithStandIn(orthanc.url, join(dir, `data-${k}`), port, {
        PULSE_QUEUE_BACKEND: 'postgres',
        PULSE_QUEUE_POSTGRES_URL: postgres.url,
        PULSE_STANDIN_DELAY_MS: String(PROCESS_MS),
        PULSE_STANDIN_CALLS: callLog,
        PULSE_QUEUE_POLL_MS: '200',
        PULSE_CHANGES_POLL_MS: '200',
        PULSE_LOG_LEVEL: 'warn',
      });
      children.set(child.pid!, { child, port });
    }
    const ports = [...children.values()].map((c) => c.port);
    await waitFor('three workers listening', async () => (await Promise.all(ports.map((p) => fetch(`http://127.0.0.1:${p}/healthz`).then((r) => r.ok, () => false)))).every(Boolean), 60_000);

    const client = new OrthancRestClient({ url: orthanc.url });
    const studies = Array.from({ length: STUDIES }, (_, k) => makeCineStudy(900 + k, { slices: 3, phases: 2 }));
    for (const study of studies) await uploadStudy(client, study);

    const callsOf = (): Map<string, number> => {
      const calls = new Map<string, number>();
      for (const uid of readFileSync(callLog, 'utf8').split('\n').filter(Boolean)) calls.set(uid, (calls.get(uid) ?? 0) + 1);
      return calls;
    };
    // Once a few are done, kill the worker of a study that is in the processor (mid-inference).
    const running = await waitFor('a study in the processor after a few are done', async () => {
      const jobs = await store.list({ limit: 1000 });
      const calls = callsOf();
      return jobs.filter((j) => j.state === 'done').length >= 3 && jobs.find((j) => j.state === 'running' && calls.get(j.studyInstanceUID) === 1);
    }, 120_000, 50);
    const pid = Number(running.leaseOwner!.split(':')[1]);
    const victim = children.get(pid);
    assert.ok(victim, `the lease owner ${running.leaseOwner} is one of ours`);
    const killedAt = Date.now();
    const exited = new Promise((done) => victim.child.once('exit', done));
    victim.child.kill('SIGKILL');
    await exited;
    assert.equal((await store.get(running.id))?.leaseOwner, running.leaseOwner, 'killed while it ran the study');

    // Restart PostgreSQL while the survivors run studies: every connection is closed under them, and
    // for 3 s (a fraction of the lease) none is accepted, so studies finish while it is down.
    await waitFor('a survivor running a study', async () => (await store.list({ state: 'running' })).some((j) => j.leaseOwner !== running.leaseOwner), 60_000, 100);
    await postgres.restart(3000);

    const all = await waitFor(`${STUDIES} jobs done`, async () => {
      const jobs = await store.list({ limit: 1000 }).catch(() => [] as Job[]);
      return jobs.length >= STUDIES && jobs.every((j) => j.state === 'done') && jobs;
    }, 180_000, 500);

    assert.equal(all.length, STUDIES, 'one job per study');
    assert.deepEqual(new Set(all.map((j) => j.studyInstanceUID)), new Set(studies.map((s) => s.studyInstanceUID)));
    const again = all.find((j) => j.id === running.id)!;
    assert.equal(again.attempts, 2, 'the killed study ran again once');
    assert.ok(again.startedAt! - killedAt < leaseMs + 15_000, `claimed again ${again.startedAt! - killedAt} ms after the kill (lease ${leaseMs} ms)`);
    for (const job of all) if (job.id !== running.id) assert.equal(job.attempts, 1, `study ${job.studyInstanceUID} ran once`);

    const calls = callsOf();
    for (const study of studies) {
      assert.equal(calls.get(study.studyInstanceUID), study.studyInstanceUID === running.studyInstanceUID ? 2 : 1, `processor calls of ${study.studyInstanceUID}`);
    }
    for (const study of studies) {
      const [found] = (await client.request('POST', '/tools/lookup', study.studyInstanceUID, 'text/plain')) as Array<{ ID: string }>;
      assert.deepEqual(await seriesModalities(client, found!.ID), ['MR', 'SEG', 'SR'], `one SEG and one SR in study ${study.studyInstanceUID}`);
    }

    // Metrics per worker: each survivor counts the studies it finished under its own worker id.
    const survivors = [...children.values()].filter((c) => c !== victim);
    const doneBy = await Promise.all(
      survivors.map(async ({ port }) => {
        const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
        const worker = /pulse_worker_info\{worker="([^"]+)"\} 1/.exec(text)?.[1];
        const done = new RegExp(`pulse_job_attempts_total\\{outcome="done",worker="${worker}"\\} (\\d+)`).exec(text)?.[1];
        return { worker, done: Number(done ?? 0) };
      }),
    );
    assert.equal(new Set(doneBy.map((d) => d.worker)).size, 2, JSON.stringify(doneBy));
    assert.ok(doneBy.every((d) => d.done > 0), `both survivors did work: ${JSON.stringify(doneBy)}`);
  } finally {
    for (const { child } of children.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await store.close();
    await orthanc.stop();
    await postgres.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
