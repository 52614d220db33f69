import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { backoffDelayMs } from '../src/queue/backoff.js';
import Database from 'better-sqlite3';
import { JobPriority, type JobStore } from '../src/queue/job-store.js';
import { SqliteJobStore, sqliteOptions } from '../src/queue/sqlite-job-store.js';
import { jobStoreBackends } from './support/job-stores.js';

const MODEL = 'pulse-lite@1.0.0';

test('backoff grows exponentially up to the ceiling, jitter stays within its share', () => {
  const options = { baseMs: 1000, factor: 2, maxMs: 10_000, jitter: 0 };
  assert.deepEqual([1, 2, 3, 4, 5, 6].map((n) => backoffDelayMs(n, options)), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  assert.equal(backoffDelayMs(3, { ...options, jitter: 0.5 }, () => 0), 2000);
  assert.equal(backoffDelayMs(3, { ...options, jitter: 0.5 }, () => 0.999999), 4000);
  assert.throws(() => backoffDelayMs(0, options), /attempt must be a positive integer/);
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 40 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (attempt, jitter, r) => {
      const o = { baseMs: 500, factor: 2, maxMs: 60_000, jitter };
      const ceiling = Math.min(o.maxMs, o.baseMs * 2 ** (attempt - 1));
      const d = backoffDelayMs(attempt, o, () => r);
      return d >= Math.floor(ceiling * (1 - jitter)) && d <= ceiling;
    }),
  );
});

test('a SQLite database created before priorities and retry budgets is upgraded on open', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'pulse-queue-'));
  const path = join(dir, 'queue.sqlite');
  try {
    const old = new Database(path, sqliteOptions());
    old.exec(`CREATE TABLE jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, study_uid TEXT NOT NULL, model_key TEXT NOT NULL, orthanc_id TEXT,
      state TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0, not_before INTEGER NOT NULL DEFAULT 0, lease_owner TEXT, lease_until INTEGER,
      reason TEXT, forced INTEGER NOT NULL DEFAULT 0, source TEXT NOT NULL, trigger_version TEXT, created_at INTEGER NOT NULL,
      queued_at INTEGER NOT NULL, updated_at INTEGER NOT NULL, started_at INTEGER, finished_at INTEGER, timings TEXT NOT NULL DEFAULT '{}',
      outcome TEXT, UNIQUE (study_uid, model_key));
      CREATE INDEX jobs_due ON jobs (state, not_before, id);
      INSERT INTO jobs (study_uid, model_key, state, source, created_at, queued_at, updated_at) VALUES ('1.5', '${MODEL}', 'queued', 'changes', 1, 1, 1);`);
    old.close();
    const store = new SqliteJobStore(path);
    try {
      const job = (await store.claim('w', 1000))!;
      assert.deepEqual([job.studyInstanceUID, job.priority, job.retries, job.retrySince], ['1.5', JobPriority.newStudy, 0, null]);
    } finally {
      await store.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});


// The JobStore contract: every test runs on SQLite and on a real PostgreSQL.
for (const backend of jobStoreBackends()) {
  describe(`JobStore on ${backend.name}`, () => {
    before(() => backend.setUp(), { timeout: 180_000 });
    after(() => backend.tearDown());

    const withStore = (fn: (store: JobStore, reopen: () => JobStore) => void | Promise<void>): (() => Promise<void>) => async () => {
      const opened = await backend.open();
      try {
        await fn(opened.store, opened.reopen);
      } finally {
        await opened.dispose();
      }
    };

    test('enqueue is idempotent: a study queued twice is one job', withStore(async (store) => {
      const first = await store.enqueue({ studyInstanceUID: '1.2.3', modelKey: MODEL, source: 'changes', triggerVersion: 'v1' });
      const second = await store.enqueue({ studyInstanceUID: '1.2.3', modelKey: MODEL, source: 'webhook', triggerVersion: 'v1' });
      assert.equal(first.created, true);
      assert.equal(second.created, false);
      assert.equal(second.job.id, first.job.id);
      assert.equal((await store.list()).length, 1);
      // Another model version is another job.
      assert.equal((await store.enqueue({ studyInstanceUID: '1.2.3', modelKey: 'pulse-lite@2.0.0', source: 'changes' })).created, true);
    }));

    test('a done study is not queued again unless forced; a skipped one is when the study changed', withStore(async (store) => {
      const { job } = await store.enqueue({ studyInstanceUID: '1.2.3', modelKey: MODEL, source: 'changes', triggerVersion: 'v1' });
      const claimed = (await store.claim('w1', 10_000))!;
      assert.equal(claimed.id, job.id);
      assert.ok(await store.complete(job.id, 'w1', { diagnosis: 'NOR' }, { total: 5 }));
      assert.equal((await store.enqueue({ studyInstanceUID: '1.2.3', modelKey: MODEL, source: 'changes', triggerVersion: 'v2' })).created, false, 'our own outputs change the study: still done');
      const forced = await store.enqueue({ studyInstanceUID: '1.2.3', modelKey: MODEL, source: 'api', force: true });
      assert.equal(forced.created, true);
      assert.equal(forced.job.state, 'queued');
      assert.equal(forced.job.forced, true);
      assert.equal(forced.job.attempts, 0);

      await store.enqueue({ studyInstanceUID: '9.9', modelKey: MODEL, source: 'changes', triggerVersion: 'a' });
      const ids = [(await store.claim('w1', 10_000))!, (await store.claim('w1', 10_000))!];
      const skippedJob = ids.find((j) => j.studyInstanceUID === '9.9')!;
      assert.ok(await store.skip(skippedJob.id, 'w1', 'no cine stack', {}));
      assert.equal((await store.get(skippedJob.id))!.reason, 'no cine stack');
      assert.equal((await store.enqueue({ studyInstanceUID: '9.9', modelKey: MODEL, source: 'webhook', triggerVersion: 'a' })).created, false, 'the same announcement twice');
      assert.equal((await store.enqueue({ studyInstanceUID: '9.9', modelKey: MODEL, source: 'changes', triggerVersion: 'b' })).created, true, 'new instances arrived');
    }));

    test('claims from several connections at once never hand out one job twice', withStore(async (store, reopen) => {
      for (let i = 0; i < 20; i++) await store.enqueue({ studyInstanceUID: `5.${i}`, modelKey: MODEL, source: 'changes' });
      const others = [reopen(), reopen()];
      try {
        const stores = [store, ...others];
        const claims = await Promise.all(Array.from({ length: 30 }, (_, k) => stores[k % stores.length]!.claim(`w${k}`, 10_000)));
        const ids = claims.flatMap((j) => (j ? [j.id] : []));
        assert.equal(ids.length, 20, 'every job claimed, the extra claims found none');
        assert.equal(new Set(ids).size, 20, 'no job claimed twice');
      } finally {
        await Promise.all(others.map((o) => o.close()));
      }
    }));

    test('one study announced through several connections at once is one job', withStore(async (store, reopen) => {
      const others = [reopen(), reopen()];
      try {
        const results = await Promise.all([store, ...others, store, ...others].map((s, k) => s.enqueue({ studyInstanceUID: '6.1', modelKey: MODEL, source: k % 2 ? 'webhook' : 'changes', triggerVersion: 'v1' })));
        assert.equal(results.filter((r) => r.created).length, 1);
        assert.equal(new Set(results.map((r) => r.job.id)).size, 1);
        assert.equal((await store.findByStudy('6.1')).length, 1);
      } finally {
        await Promise.all(others.map((o) => o.close()));
      }
    }));

    test('one job per study and model key, the calibrations in force included: another calibration is another job', withStore(async (store) => {
      const bare = await store.enqueue({ studyInstanceUID: '7.1', modelKey: MODEL, source: 'changes', triggerVersion: 'a' });
      await store.claim('w', 10_000);
      assert.ok(await store.complete(bare.job.id, 'w', { calibration: null }, {}));
      const calibrated = await store.enqueue({ studyInstanceUID: '7.1', modelKey: `${MODEL}+site-a-1`, source: 'changes', triggerVersion: 'b' });
      assert.equal(calibrated.created, true, 'the done job of the bare model does not cover the calibrated one');
      assert.notEqual(calibrated.job.id, bare.job.id);
      assert.equal((await store.enqueue({ studyInstanceUID: '7.1', modelKey: `${MODEL}+site-a-1`, source: 'webhook', triggerVersion: 'b' })).created, false);
      assert.deepEqual((await store.findByStudy('7.1')).map((j) => [j.modelKey, j.state]), [[MODEL, 'done'], [`${MODEL}+site-a-1`, 'queued']]);
      assert.deepEqual((await store.findByStudy('7.1', MODEL)).map((j) => j.id), [bare.job.id]);
    }));

    test('claims are exclusive, ordered, and respect notBefore', withStore(async (store) => {
      for (const uid of ['1', '2', '3']) (await store.enqueue({ studyInstanceUID: uid, modelKey: MODEL, source: 'changes' }));
      const a = (await store.claim('w1', 10_000))!;
      const b = (await store.claim('w2', 10_000))!;
      assert.deepEqual([a.studyInstanceUID, b.studyInstanceUID], ['1', '2']);
      assert.equal(a.attempts, 1);
      assert.equal(a.state, 'running');
      assert.equal((await store.complete(a.id, 'w2', {}, {})), false, 'only the lease owner may finish a job');
      const now = Date.now();
      assert.ok(await store.retry(a.id, 'w1', 'Orthanc down', now + 60_000, { retrieve: 3 }));
      const c = (await store.claim('w1', 10_000))!;
      assert.equal(c.studyInstanceUID, '3', 'a job in backoff waits');
      assert.equal((await store.claim('w1', 10_000)), undefined);
      const later = (await store.claim('w1', 10_000, now + 61_000))!;
      assert.equal(later.id, a.id);
      assert.equal(later.attempts, 1, 'the retry after an upstream failure gave its attempt back');
    }));

    test('a running job whose lease expired is requeued, or failed once out of attempts', withStore(async (store) => {
      await store.enqueue({ studyInstanceUID: '1', modelKey: MODEL, source: 'changes' });
      const job = (await store.claim('dead-worker', 1000))!;
      assert.equal((await store.recoverExpiredLeases(3, Date.now())), 0, 'lease still valid');
      assert.ok(await store.renewLease(job.id, 'dead-worker', 1000));
      assert.equal((await store.renewLease(job.id, 'other', 1000)), false);
      assert.equal((await store.recoverExpiredLeases(3, Date.now() + 5000)), 1);
      assert.equal((await store.get(job.id))!.state, 'queued');
      assert.match((await store.get(job.id))!.reason!, /lease expired/);
      for (let i = 0; i < 2; i++) {
        await store.claim('dead-worker', 1000);
        await store.recoverExpiredLeases(3, Date.now() + 5000);
      }
      const failed = (await store.get(job.id))!;
      assert.equal(failed.state, 'failed');
      assert.equal(failed.attempts, 3);
      assert.match(failed.reason!, /lease expired\) 3 times/);
    }));

    test('a graceful shutdown gives running jobs back without counting the attempt', withStore(async (store) => {
      await store.enqueue({ studyInstanceUID: '1', modelKey: MODEL, source: 'changes' });
      const job = (await store.claim('w1', 60_000))!;
      assert.equal((await store.releaseOwner('w1')), 1);
      const back = (await store.get(job.id))!;
      assert.equal(back.state, 'queued');
      assert.equal(back.attempts, 0);
    }));

    test('the store survives reopening: jobs, states and the cursor are kept', withStore(async (store, reopen) => {
      await store.enqueue({ studyInstanceUID: '1', modelKey: MODEL, source: 'changes' });
      const job = (await store.claim('w1', 60_000))!;
      await store.fail(job.id, 'w1', 'no cine series (study 1)', { total: 1 });
      await store.setValue('changes.cursor', '42');
      const again = reopen();
      try {
        assert.equal((await again.get(job.id))!.state, 'failed');
        assert.equal((await again.get(job.id))!.reason, 'no cine series (study 1)');
        assert.equal((await again.getValue('changes.cursor')), '42');
        assert.deepEqual((await again.countByState()), { queued: 0, running: 0, done: 0, failed: 1, skipped: 0 });
        assert.deepEqual((await again.list({ state: 'failed' })).map((j) => j.id), [job.id]);
      } finally {
        await again.close();
      }
    }));

    test('new studies are claimed before reprocess requests, however many of those wait', withStore(async (store) => {
      for (let i = 0; i < 20; i++) {
        const { job } = await store.enqueue({ studyInstanceUID: `1.9.${i}`, modelKey: MODEL, source: 'changes' });
        await store.claim('w', 1000);
        await store.complete(job.id, 'w', {}, {});
        assert.equal((await store.enqueue({ studyInstanceUID: `1.9.${i}`, modelKey: MODEL, source: 'api', force: true, priority: JobPriority.reprocess })).job.priority, JobPriority.reprocess);
      }
      const fresh = (await store.enqueue({ studyInstanceUID: '1.8.1', modelKey: MODEL, source: 'changes' })).job;
      assert.equal(fresh.priority, JobPriority.newStudy);
      assert.equal((await store.claim('w', 1000))?.id, fresh.id);
      assert.equal((await store.claim('w', 1000))?.studyInstanceUID, '1.9.0', 'then reprocess requests, oldest first');
      // Asking again for a study that is still queued as new does not push it back.
      const queued = (await store.enqueue({ studyInstanceUID: '1.8.2', modelKey: MODEL, source: 'changes' })).job;
      assert.equal((await store.enqueue({ studyInstanceUID: '1.8.2', modelKey: MODEL, source: 'api', force: true, priority: JobPriority.reprocess })).job.priority, JobPriority.newStudy);
      assert.equal((await store.claim('w', 1000))?.id, queued.id);
    }));

    test('a retry after an upstream failure gives the attempt back and remembers when the failures began', withStore(async (store) => {
      const { job } = await store.enqueue({ studyInstanceUID: '1.2', modelKey: MODEL, source: 'changes' });
      const claimed = (await store.claim('w', 1000))!;
      assert.equal(claimed.attempts, 1);
      const before = Date.now();
      assert.ok(await store.retry(job.id, 'w', 'Orthanc down', 0, {}));
      const first = (await store.get(job.id))!;
      assert.deepEqual([first.state, first.attempts, first.retries], ['queued', 0, 1]);
      assert.ok(first.retrySince! >= before);
      await store.claim('w', 1000);
      await store.retry(job.id, 'w', 'Orthanc down', 0, {});
      assert.equal((await store.get(job.id))!.retrySince, first.retrySince, 'the budget counts from the first failure');
      assert.equal((await store.get(job.id))!.retries, 2);
    }));

    test('one holder of a singleton at a time (the changes listener); it passes on when the holder lets go or stops renewing', withStore(async (store) => {
      assert.equal(await store.holdSingleton('changes', 'a', 1000, 0), true);
      assert.equal(await store.holdSingleton('changes', 'b', 1000, 500), false, 'held by a');
      assert.equal(await store.holdSingleton('changes', 'a', 1000, 900), true, 'renewed by its holder');
      assert.equal(await store.holdSingleton('changes', 'b', 1000, 1500), false, 'the renewal counts');
      assert.equal(await store.holdSingleton('changes', 'b', 1000, 2000), true, 'a stopped renewing: b takes over');
      await store.releaseSingleton('changes', 'b');
      assert.equal(await store.holdSingleton('changes', 'a', 1000, 2100), true);
    }));

    // Added where mutation testing (docs/testing.md) showed enqueue rules no test pinned down.
    test('asking again for a queued study marks it forced or raises its priority, without a new job; a running one is left alone', withStore(async (store) => {
      const first = (await store.enqueue({ studyInstanceUID: '3.1', modelKey: MODEL, source: 'api', priority: JobPriority.reprocess })).job;
      assert.equal(first.forced, false);
      assert.equal(first.outcome, null);
      const forced = await store.enqueue({ studyInstanceUID: '3.1', modelKey: MODEL, source: 'api', force: true, priority: JobPriority.reprocess });
      assert.deepEqual([forced.created, forced.job.id, forced.job.forced, forced.job.priority], [false, first.id, true, JobPriority.reprocess]);
      const raised = await store.enqueue({ studyInstanceUID: '3.1', modelKey: MODEL, source: 'changes', priority: JobPriority.newStudy });
      assert.deepEqual([raised.created, raised.job.id, raised.job.forced, raised.job.priority], [false, first.id, true, JobPriority.newStudy]);
      const running = (await store.claim('w', 10_000))!;
      const again = await store.enqueue({ studyInstanceUID: '3.1', modelKey: MODEL, source: 'api', force: true, priority: JobPriority.newStudy + 5 });
      assert.deepEqual([again.created, again.job.state, again.job.priority, again.job.attempts], [false, 'running', running.priority, 1]);
    }));

    test('a failed study is queued again when it changed, not for the same announcement; a done one only when forced', withStore(async (store) => {
      const { job } = await store.enqueue({ studyInstanceUID: '4.1', modelKey: MODEL, source: 'changes', triggerVersion: 'a' });
      await store.claim('w', 10_000);
      assert.ok(await store.fail(job.id, 'w', 'BadInputError: no cine', {}));
      assert.equal((await store.enqueue({ studyInstanceUID: '4.1', modelKey: MODEL, source: 'changes', triggerVersion: 'a' })).created, false);
      assert.equal((await store.enqueue({ studyInstanceUID: '4.1', modelKey: MODEL, source: 'changes' })).created, false, 'no version: not known to have changed');
      const requeued = await store.enqueue({ studyInstanceUID: '4.1', modelKey: MODEL, source: 'changes', triggerVersion: 'b' });
      assert.deepEqual([requeued.created, requeued.job.state, requeued.job.attempts, requeued.job.reason], [true, 'queued', 0, null]);
      await store.claim('w', 10_000);
      assert.ok(await store.complete(job.id, 'w', { diagnosis: 'DCM', lvefPct: 21 }, {}));
      assert.deepEqual((await store.get(job.id))!.outcome, { diagnosis: 'DCM', lvefPct: 21 });
      assert.equal((await store.enqueue({ studyInstanceUID: '4.1', modelKey: MODEL, source: 'changes', triggerVersion: 'c' })).created, false, 'done: our own outputs changed it');
    }));
  });
}
