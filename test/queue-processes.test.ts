/**
 * Two worker processes on one SQLite queue file, claiming at the same time: every job is run exactly
 * once, by one of them, with one attempt. The claim is one guarded UPDATE; a claim that read the next
 * job and then wrote it in a second step would hand the same job to both processes.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SqliteJobStore } from '../src/queue/sqlite-job-store.js';
import { projectRoot } from './support/paths.js';

const workerScript = join(projectRoot, 'dist', 'test', 'support', 'queue-worker-process.js');
const JOBS = 400;

function runWorker(queuePath: string, startAt: number): Promise<number[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [workerScript], { env: { ...process.env, QUEUE_PATH: queuePath, START_AT: String(startAt) }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '', err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve(JSON.parse(out) as number[]) : reject(new Error(`worker exited ${code}: ${err}`))));
  });
}

test('two worker processes claiming from one SQLite file run every job exactly once', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-queue-processes-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const queuePath = join(dir, 'queue.sqlite');
  const store = new SqliteJobStore(queuePath);
  t.after(() => store.close());
  for (let n = 0; n < JOBS; n++) await store.enqueue({ studyInstanceUID: `1.2.826.0.1.3680043.8.498.${n + 1}`, modelKey: 'm@1', source: 'changes' });

  // Both start claiming at the same instant, once both have opened the database.
  const startAt = Date.now() + 1500;
  const [a, b] = await Promise.all([runWorker(queuePath, startAt), runWorker(queuePath, startAt)]);

  const both = [...a, ...b];
  const twice = both.filter((id, k) => both.indexOf(id) !== k);
  assert.deepEqual(twice, [], 'no job ran in both processes, or twice in one');
  assert.equal(new Set(both).size, JOBS, 'every job ran');
  assert.ok(a.length > 0 && b.length > 0, `both processes claimed (${a.length} and ${b.length})`);
  const jobs = await store.list({ limit: JOBS });
  assert.equal(jobs.length, JOBS);
  for (const job of jobs) {
    assert.equal(job.state, 'done', `job ${job.id}`);
    assert.equal(job.attempts, 1, `job ${job.id} attempts`);
  }
});
