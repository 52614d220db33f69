/**
 * `pulse serve` as a child process, killed with SIGKILL while one job runs and others wait, then
 * started again: every study is processed exactly once (one SEG and one SR each), including one
 * uploaded while the service was down. Runs the compiled CLI (dist/), like production.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import type { Job } from '../src/queue/job-store.js';
import { startTestOrthanc } from './support/orthanc.js';
import { projectRoot, pulseBin } from './support/paths.js';
import { makeCineStudy, uploadStudy, waitFor } from './service-support.js';

const standIn = join(projectRoot, 'dist', 'test', 'service-stand-in.js');

function serve(orthancUrl: string, dataDir: string, port: number): ChildProcess {
  const child = spawn(process.execPath, [pulseBin, 'serve', '--orthanc', orthancUrl, '--data', dataDir, '--port', String(port), '--processor-module', standIn], {
    env: {
      ...process.env,
      PULSE_STANDIN_DELAY_MS: '1500',
      PULSE_LEASE_MS: '2000',
      PULSE_QUEUE_POLL_MS: '200',
      PULSE_CHANGES_POLL_MS: '200',
      PULSE_LOG_LEVEL: 'warn',
      // The test polls the job list every 100 ms, beyond the default rate limit.
      PULSE_RATE_LIMIT_READS: '100000',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

async function jobs(port: number): Promise<Job[]> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/jobs?limit=1000`);
    if (!res.ok) return [];
    return ((await res.json()) as { jobs: Job[] }).jobs;
  } catch {
    return [];
  }
}

test('killed with SIGKILL and restarted, the service processes every study exactly once', { skip: existsSync(standIn) ? false : 'build first (npx tsc -p tsconfig.json)' }, async () => {
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-restart-'));
  const children: ChildProcess[] = [];
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const port = await freePort();
    const first = serve(orthanc.url, dataDir, port);
    children.push(first);
    const studies = [makeCineStudy(11), makeCineStudy(12), makeCineStudy(13)];
    for (const study of studies) await uploadStudy(client, study);

    // Kill it while one job runs and the others wait.
    const before = await waitFor('one running, two queued', async () => {
      const list = await jobs(port);
      return list.filter((j) => j.state === 'running').length === 1 && list.filter((j) => j.state === 'queued').length === 2 && list;
    }, 30_000, 100);
    first.kill('SIGKILL');
    await new Promise((done) => first.once('exit', done));
    const killedJob = before.find((j) => j.state === 'running')!;

    // A study that arrives while the service is down.
    const late = makeCineStudy(14);
    await uploadStudy(client, late);
    await new Promise((r) => setTimeout(r, 1500));

    const second = serve(orthanc.url, dataDir, port);
    children.push(second);
    const all = [...studies, late];
    const finished = await waitFor('all four done', async () => {
      const list = await jobs(port);
      return list.length === 4 && list.every((j) => j.state === 'done' || j.state === 'failed') && list;
    }, 60_000, 200);
    assert.deepEqual(finished.map((j) => j.state), ['done', 'done', 'done', 'done'], JSON.stringify(finished.map((j) => j.reason)));
    assert.equal(finished.find((j) => j.id === killedJob.id)!.attempts, 2, 'the job running at the kill ran again once');

    for (const study of all) {
      const studyId = (await client.request('POST', '/tools/lookup', study.studyInstanceUID, 'text/plain') as Array<{ ID: string }>)[0]!.ID;
      const series = await client.getJson<Array<{ MainDicomTags: { Modality: string }; Instances: string[] }>>(`/studies/${studyId}/series`);
      const byModality = Object.fromEntries(series.map((s) => [s.MainDicomTags.Modality, s.Instances.length]));
      assert.deepEqual(byModality, { MR: 48, SEG: 1, SR: 1 }, `study ${study.studyInstanceUID}`);
    }

    // `pulse reprocess` (another process, the same queue database): the running service runs the study again.
    const again = all[0]!.studyInstanceUID;
    const cli = spawn(process.execPath, [pulseBin, 'reprocess', again, '--data', dataDir, '--processor-module', standIn], { stdio: ['ignore', 'pipe', 'pipe'] });
    let cliOut = '';
    cli.stdout!.on('data', (chunk: Buffer) => (cliOut += chunk.toString()));
    assert.equal(await new Promise((done) => cli.once('exit', done)), 0);
    assert.match(cliOut, /^job \d+ queued/);
    await waitFor('reprocessed', async () => {
      const job = (await jobs(port)).find((j) => j.studyInstanceUID === again);
      return job?.state === 'done' && job.forced && job;
    }, 30_000);

    // SIGTERM: a graceful stop, exit code 0.
    const code = await new Promise<number | null>((done) => {
      second.once('exit', (c) => done(c));
      second.kill('SIGTERM');
    });
    assert.equal(code, 0);
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
