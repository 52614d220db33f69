import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { JobStore } from '../src/queue/job-store.js';
import { Worker, type JobHandler, type WorkerOptions } from '../src/queue/worker.js';
import { createLogger } from '../src/service/logger.js';
import { BadInputError, UpstreamUnavailableError } from '../src/core/errors.js';
import { waitFor } from './service-support.js';
import { jobStoreBackends } from './support/job-stores.js';

const MODEL = 'm@1';
const logger = createLogger('error', { silent: true });
const fast: WorkerOptions = { concurrency: 1, leaseMs: 2000, maxAttempts: 4, pollIntervalMs: 20, backoff: { baseMs: 20, factor: 2, maxMs: 100, jitter: 0.5 } };

// The worker on each job store backend: SQLite and a real PostgreSQL.
for (const backend of jobStoreBackends()) {
  describe(`worker on ${backend.name}`, () => {
    before(() => backend.setUp(), { timeout: 180_000 });
    after(() => backend.tearDown());

    async function withWorker(handler: JobHandler, options: Partial<WorkerOptions>, fn: (store: JobStore, worker: Worker) => Promise<void>): Promise<void> {
      const opened = await backend.open();
      const worker = new Worker(opened.store, handler, { ...fast, ...options }, logger);
      try {
        worker.start();
        await fn(opened.store, worker);
      } finally {
        await worker.stop(100);
        await opened.dispose();
      }
    }

    test('retries a job whose upstream is unavailable, with backoff, until it succeeds', async () => {
      let calls = 0;
      await withWorker(async ({ timings }) => {
        calls++;
        await timings.time('retrieve', async () => {
          if (calls < 3) throw new UpstreamUnavailableError('Orthanc at http://127.0.0.1:1 is unreachable');
        });
        return { state: 'done', outcome: { diagnosis: 'NOR' } };
      }, {}, async (store, worker) => {
        const { job } = await store.enqueue({ studyInstanceUID: '1.2', modelKey: MODEL, source: 'changes' });
        worker.notify();
        const done = await waitFor('job done', async () => (await store.get(job.id))?.state === 'done' && (await store.get(job.id)), 5000, 20);
        assert.equal(done.attempts, 1, 'waiting for the upstream spends no attempt');
        assert.equal(done.retries, 2);
        assert.equal(done.outcome?.diagnosis, 'NOR');
        assert.ok('retrieve' in done.timings && 'queue_wait' in done.timings && 'total' in done.timings, JSON.stringify(done.timings));
      });
    });

    test('an upstream outage spends time, not attempts: the job is retried until the retry budget is spent, then failed with the reason', async () => {
      let calls = 0;
      await withWorker(async () => {
        calls++;
        throw new UpstreamUnavailableError('Orthanc answered 503 to GET /studies/x');
      }, { maxAttempts: 1, retryBudgetMs: 400 }, async (store) => {
        const { job } = await store.enqueue({ studyInstanceUID: '1.2', modelKey: MODEL, source: 'changes' });
        const failed = await waitFor('job failed', async () => (await store.get(job.id))?.state === 'failed' && (await store.get(job.id)), 5000, 20);
        assert.ok(calls > 1, `retried beyond maxAttempts (1): ${calls} calls`);
        assert.equal(failed.attempts, 1, 'no attempt spent on the outage');
        assert.equal(failed.retries, calls - 1);
        assert.match(failed.reason!, /^gave up after \d+ s of upstream failures \(budget 0 s\): UpstreamUnavailableError: Orthanc answered 503/);
      });
    });

    test('a running job keeps its short lease by heartbeat: a second worker does not take it while the first runs', async () => {
      const opened = await backend.open();
      const store = opened.store;
      const runs: string[] = [];
      const slow: JobHandler = async ({ job }) => {
        runs.push(job.studyInstanceUID);
        await new Promise((r) => setTimeout(r, 4500));
        return { state: 'done', outcome: {} };
      };
      // A lease of 1.5 s renewed every 0.5 s: generous for a loaded machine, three leases short of the job.
      const a = new Worker(store, slow, { ...fast, leaseMs: 1500 }, logger);
      const b = new Worker(store, slow, { ...fast, leaseMs: 1500 }, logger);
      try {
        const { job } = await store.enqueue({ studyInstanceUID: '1.2', modelKey: MODEL, source: 'changes' });
        a.start();
        await waitFor('running', async () => (await store.get(job.id))?.state === 'running', 5000, 10);
        b.start();
        const done = await waitFor('done', async () => (await store.get(job.id))?.state === 'done' && (await store.get(job.id)), 15_000, 20);
        assert.deepEqual(runs, ['1.2'], 'run once, though it took three leases');
        assert.equal(done.attempts, 1);
      } finally {
        await a.stop(100);
        await b.stop(100);
        await opened.dispose();
      }
    });

    test('bad input fails at once with its reason, and the next study is processed', async () => {
      await withWorker(async ({ job }) => {
        if (job.studyInstanceUID === '1.1') throw new BadInputError('no cine short-axis series', job.studyInstanceUID);
        return { state: 'done', outcome: {} };
      }, {}, async (store) => {
        const bad = (await store.enqueue({ studyInstanceUID: '1.1', modelKey: MODEL, source: 'changes' })).job;
        const good = (await store.enqueue({ studyInstanceUID: '1.2', modelKey: MODEL, source: 'changes' })).job;
        await waitFor('both finished', async () => (await store.get(good.id))?.state === 'done' && (await store.get(bad.id))?.state === 'failed', 5000, 20);
        assert.equal((await store.get(bad.id))!.attempts, 1);
        assert.equal((await store.get(bad.id))!.reason, 'BadInputError: no cine short-axis series (study 1.1)');
      });
    });

    test('an unknown error (our bug) fails loudly without retry', async () => {
      await withWorker(async () => {
        throw new TypeError("Cannot read properties of undefined (reading 'x')");
      }, {}, async (store) => {
        const { job } = await store.enqueue({ studyInstanceUID: '1.2', modelKey: MODEL, source: 'changes' });
        const failed = await waitFor('failed', async () => (await store.get(job.id))?.state === 'failed' && (await store.get(job.id)), 5000, 20);
        assert.equal(failed.attempts, 1);
        assert.match(failed.reason!, /^internal error: TypeError: Cannot read properties/);
      });
    });

    test('a skip records its reason', async () => {
      await withWorker(async () => ({ state: 'skipped', reason: 'no cine stack' }), {}, async (store) => {
        const { job } = await store.enqueue({ studyInstanceUID: '1.2', modelKey: MODEL, source: 'changes' });
        const skipped = await waitFor('skipped', async () => (await store.get(job.id))?.state === 'skipped' && (await store.get(job.id)), 5000, 20);
        assert.equal(skipped.reason, 'no cine stack');
      });
    });

    test('concurrency is bounded', async () => {
      let running = 0;
      let most = 0;
      await withWorker(async () => {
        running++;
        most = Math.max(most, running);
        await new Promise((r) => setTimeout(r, 30));
        running--;
        return { state: 'done', outcome: {} };
      }, { concurrency: 2 }, async (store) => {
        for (let i = 0; i < 7; i++) (await store.enqueue({ studyInstanceUID: `1.${i}`, modelKey: MODEL, source: 'changes' }));
        await waitFor('all done', async () => (await store.countByState()).done === 7, 5000, 20);
        assert.equal(most, 2);
      });
    });

    test('stopping gives a job that does not finish in the grace period back to the queue', async () => {
      const opened = await backend.open();
      const store = opened.store;
      try {
        const worker = new Worker(store, () => new Promise(() => undefined), fast, logger);
        worker.start();
        const { job } = await store.enqueue({ studyInstanceUID: '1.2', modelKey: MODEL, source: 'changes' });
        worker.notify();
        await waitFor('running', async () => (await store.get(job.id))?.state === 'running', 5000, 20);
        await worker.stop(50);
        const back = (await store.get(job.id))!;
        assert.equal(back.state, 'queued');
        assert.equal(back.attempts, 0);
        assert.equal(back.reason, 'requeued at shutdown');
      } finally {
        await opened.dispose();
      }
    });
  });
}
