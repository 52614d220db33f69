/**
 * `pulse serve` as a child process, killed with SIGKILL twice, then started again:
 * - once while a study is in the processor (mid-inference),
 * - once after its SEG and SR are stored (STOW-RS) and before the study is marked done (a proxy in
 *   front of Orthanc holds the marking request until the kill).
 * Each study takes the processor three times the queue lease, so only a heartbeat that renews the
 * lease keeps another claim away. Every study ends processed exactly once: one processor call per
 * study (two for each killed one), attempts 1 for every job not killed, one SEG and one SR each.
 * Runs the compiled CLI (dist/), like production.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../src/orthanc/local-orthanc.js';
import { OrthancRestClient } from '../src/orthanc/rest-client.js';
import { USER_METADATA_DECLARATION } from '../src/service/marking.js';
import type { Job } from '../src/queue/job-store.js';
import { startTestOrthanc } from './support/orthanc.js';
import { isMarking, startFaultProxy } from './support/fault-proxy.js';
import { projectRoot, pulseBin } from './support/paths.js';
import { killHard, listJobs, makeCineStudy, serveWithStandIn, seriesModalities, uploadStudy, waitFor } from './service-support.js';

const standIn = join(projectRoot, 'dist', 'test', 'service-stand-in.js');
const LEASE_MS = 1000;
/** Each study's time in the stand-in processor: three leases. */
const PROCESS_MS = 3000;

function serve(orthancUrl: string, dataDir: string, port: number, callLog: string): ChildProcess {
  return serveWithStandIn(orthancUrl, dataDir, port, {
    PULSE_STANDIN_DELAY_MS: String(PROCESS_MS),
    PULSE_STANDIN_CALLS: callLog,
    PULSE_LEASE_MS: String(LEASE_MS),
    PULSE_QUEUE_POLL_MS: '100',
    PULSE_CHANGES_POLL_MS: '200',
    PULSE_LOG_LEVEL: 'warn',
    // The test polls the job list every 100 ms, beyond the default rate limit.
    PULSE_RATE_LIMIT_READS: '100000',
  });
}

const jobs = (port: number): Promise<Job[]> => listJobs(port);

test('killed mid-inference and between STOW and marking, the service processes every study exactly once', { skip: existsSync(standIn) ? false : 'build first (npx tsc -p tsconfig.json)' }, async () => {
  const orthanc = await startTestOrthanc({ stableAgeSeconds: 1, userMetadata: USER_METADATA_DECLARATION });
  // Holds the marking request of the study killed after STOW (never forwarded: the service is killed while it waits).
  const proxy = await startFaultProxy(orthanc.url);
  const dataDir = mkdtempSync(join(tmpdir(), 'pulse-restart-'));
  const callLog = join(dataDir, 'processor-calls.txt');
  writeFileSync(callLog, '');
  const calls = () => readFileSync(callLog, 'utf8').split('\n').filter((line) => line !== '');
  const children: ChildProcess[] = [];
  try {
    const client = new OrthancRestClient({ url: orthanc.url });
    const port = await freePort();
    const studies = [makeCineStudy(11), makeCineStudy(12), makeCineStudy(13)];
    const orthancIdOf = new Map<string, string>();
    const first = serve(proxy.url, dataDir, port, callLog);
    children.push(first);
    for (const study of studies) orthancIdOf.set(study.studyInstanceUID, await uploadStudy(client, study));

    // Kill 1: while the first study is in the processor (it takes 3 s there).
    const [killedMidInference] = await waitFor('a study in the processor', () => calls().length > 0 && calls(), 30_000, 50);
    await new Promise((r) => setTimeout(r, 300));
    await killHard(first);

    // A study that arrives while the service is down.
    const late = makeCineStudy(14);
    orthancIdOf.set(late.studyInstanceUID, await uploadStudy(client, late));
    const all = [...studies, late];

    // Kill 2: after the next study's SEG and SR are in Orthanc, while the service marks it.
    const holdOf = new Set([...orthancIdOf].filter(([uid]) => uid !== killedMidInference).map(([, id]) => id));
    const marking = proxy.hold((method, path) => isMarking(method, path) && holdOf.has(path.split('/')[2]!));
    const second = serve(proxy.url, dataDir, port, callLog);
    children.push(second);
    const heldStudyId = (await marking).path.split('/')[2]!;
    const killedAfterStow = [...orthancIdOf].find(([, id]) => id === heldStudyId)![0];
    assert.deepEqual(await seriesModalities(client, heldStudyId), ['MR', 'SEG', 'SR'], 'killed after STOW-RS: the outputs are stored');
    const marks = await client.getJson<Record<string, string>>(`/studies/${heldStudyId}/metadata?expand`);
    assert.notEqual(marks.PulseStatus, 'done', 'killed before the study is marked');
    await killHard(second);

    const killed = new Set([killedMidInference, killedAfterStow]);
    assert.equal(killed.size, 2, 'two different studies were killed');
    const countCalls = () => {
      const counts = new Map<string, number>();
      for (const uid of calls()) counts.set(uid, (counts.get(uid) ?? 0) + 1);
      return counts;
    };

    const third = serve(proxy.url, dataDir, port, callLog);
    children.push(third);
    const finished = await waitFor('all four done', async () => {
      // Fail at once, with the reason, when a study reaches the processor once too often (a lost lease).
      for (const [uid, n] of countCalls()) assert.ok(n <= (killed.has(uid) ? 2 : 1), `study ${uid} reached the processor ${n} times${killed.has(uid) ? ' (killed once)' : ''}`);
      const list = await jobs(port);
      return list.length === 4 && list.every((j) => j.state === 'done' || j.state === 'failed' || j.state === 'skipped') && list;
    }, 60_000, 200).catch(async (error: Error) => {
      throw new Error(`${error.message}\nprocessor calls: ${calls().join(' ')}\njobs: ${JSON.stringify((await jobs(port)).map((j) => [j.studyInstanceUID, j.state, j.attempts, j.reason]))}`);
    });
    // A job claimed again after its study was marked ends 'skipped' (already processed): that is double handling too.
    assert.deepEqual(finished.map((j) => j.state), ['done', 'done', 'done', 'done'], JSON.stringify(finished.map((j) => [j.state, j.attempts, j.reason])));

    // Each kill costs its study one more attempt and one more processor call; nothing else runs twice,
    // although every study outlives the lease three times over.
    const callCounts = countCalls();
    for (const study of all) {
      const uid = study.studyInstanceUID;
      const expected = killed.has(uid) ? 2 : 1;
      assert.equal(finished.find((j) => j.studyInstanceUID === uid)!.attempts, expected, `attempts of ${uid}${killed.has(uid) ? ' (killed)' : ''}`);
      assert.equal(callCounts.get(uid), expected, `processor calls for ${uid}${killed.has(uid) ? ' (killed)' : ''}`);
    }
    assert.equal(calls().length, 6);

    for (const study of all) {
      const studyId = orthancIdOf.get(study.studyInstanceUID)!;
      const series = await client.getJson<Array<{ MainDicomTags: { Modality: string }; Instances: string[] }>>(`/studies/${studyId}/series`);
      const byModality = Object.fromEntries(series.map((s) => [s.MainDicomTags.Modality, s.Instances.length]));
      assert.deepEqual(byModality, { MR: 48, SEG: 1, SR: 1 }, `study ${study.studyInstanceUID}`);
      const metadata = await client.getJson<Record<string, string>>(`/studies/${studyId}/metadata?expand`);
      assert.equal(metadata.PulseStatus, 'done', `study ${study.studyInstanceUID} marked`);
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
      third.once('exit', (c) => done(c));
      third.kill('SIGTERM');
    });
    assert.equal(code, 0);
  } finally {
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await proxy.close();
    await orthanc.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
});
