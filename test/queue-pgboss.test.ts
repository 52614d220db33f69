/**
 * What the PostgreSQL job store adds to the shared contract (test/queue.test.ts) by delivering its jobs
 * through pg-boss: our row and its pg-boss job are written in one transaction and never disagree, also
 * when the connection dies between the two writes; pg-boss's schema is created at first use, beside
 * ours; installations with different schemas in one database never see each other's jobs; and a queued
 * row that lost its pg-boss job (rows from before pg-boss, an operator clearing pg-boss's tables) is
 * delivered again. On a real PostgreSQL 15.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import pg from 'pg';
import type { Logger } from '../src/core/logger.js';
import { BOSS_QUEUE, PostgresJobStore } from '../src/queue/postgres-job-store.js';
import { startTestPostgres, type TestPostgres } from './support/postgres.js';

const MODEL = 'pulse-lite@1.0.0';

describe('PostgreSQL job store delivered by pg-boss', () => {
  let server: TestPostgres;
  let admin: pg.Pool;
  let schemas = 0;
  const stores: PostgresJobStore[] = [];

  before(async () => {
    server = await startTestPostgres();
    admin = new pg.Pool({ connectionString: server.url, max: 2 });
    // Its idle connections die with the restart below; the pool replaces them.
    admin.on('error', () => undefined);
  }, { timeout: 180_000 });
  after(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await admin.end();
    await server.stop();
  });

  const freshSchema = (): string => `boss_${process.pid}_${++schemas}`;
  const open = (schema: string, options: Partial<ConstructorParameters<typeof PostgresJobStore>[0]> = {}): PostgresJobStore => {
    const store = new PostgresJobStore({ url: server.url, schema, ...options });
    stores.push(store);
    return store;
  };

  /**
   * Rows and pg-boss jobs that disagree: a queued row needs exactly one pg-boss job waiting for it, a
   * running row one active, a finished row none live; no live pg-boss job without its row waiting.
   */
  async function disagreements(schema: string): Promise<string[]> {
    const rows = (
      await admin.query<{ id: string; state: string; live: string[] }>(
        `SELECT r.id::text, r.state, COALESCE(array_agg(b.state::text) FILTER (WHERE b.id IS NOT NULL), '{}') AS live
         FROM ${schema}.jobs r LEFT JOIN ${schema}_boss.job b
           ON b.name = $1 AND b.singleton_key = r.id::text AND b.state IN ('created', 'retry', 'active')
         GROUP BY r.id, r.state`,
        [BOSS_QUEUE],
      )
    ).rows;
    const expected: Record<string, string[]> = { queued: ['created'], running: ['active'], done: [], failed: [], skipped: [] };
    const wrong = rows.filter((r) => JSON.stringify(r.live.map((s) => (s === 'retry' ? 'created' : s))) !== JSON.stringify(expected[r.state])).map((r) => `row ${r.id} ${r.state}: pg-boss ${r.live.join(',') || 'none'}`);
    const strays = (
      await admin.query<{ id: string }>(
        `SELECT b.id::text FROM ${schema}_boss.job b WHERE b.name = $1 AND b.state IN ('created', 'retry', 'active')
           AND NOT EXISTS (SELECT 1 FROM ${schema}.jobs r WHERE r.id::text = b.singleton_key AND r.boss_id = b.id::text)`,
        [BOSS_QUEUE],
      )
    ).rows.map((b) => `pg-boss job ${b.id} without its row`);
    return [...wrong, ...strays];
  }

  const schemaExists = async (name: string): Promise<boolean> => (await admin.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [name])).rowCount === 1;

  test("pg-boss's schema is created at first use, beside ours, and the queue holds one waiting job per row", async () => {
    const schema = freshSchema();
    const store = open(schema);
    assert.equal(await schemaExists(`${schema}_boss`), false, 'opening the store touches nothing');
    const { job } = await store.enqueue({ studyInstanceUID: '1.1', modelKey: MODEL, source: 'changes' });
    assert.equal(await schemaExists(`${schema}_boss`), true);
    const queue = (
      await admin.query<{ policy: string; retry_limit: number; expire_seconds: number; retention_minutes: number }>(
        `SELECT policy, retry_limit, expire_seconds, retention_minutes FROM ${schema}_boss.queue WHERE name = $1`,
        [BOSS_QUEUE],
      )
    ).rows[0];
    // No pg-boss retries; a queued job kept a year (pg-boss 10 takes a queue's retention in minutes only).
    assert.deepEqual(queue, { policy: 'short', retry_limit: 0, expire_seconds: 23 * 3600, retention_minutes: 365 * 24 * 60 });
    // The short queue itself refuses a second waiting job for the row: PostgreSQL enforces it.
    await assert.rejects(
      admin.query(`INSERT INTO ${schema}_boss.job (name, data, singleton_key, policy) VALUES ($1, $2, $3, 'short')`, [BOSS_QUEUE, { row: job.id }, String(job.id)]),
      /duplicate key value/,
    );
    assert.deepEqual(await disagreements(schema), []);
  });

  test('five stores starting at once on a new schema all start: one pg-boss queue, every announcement one job', async () => {
    // pg-boss's create_queue run by several replicas at once can deadlock (PostgreSQL aborts one):
    // the store tries again and finds the queue made (3 stores failed this 5 times in 6 before).
    const schema = freshSchema();
    const starting = Array.from({ length: 5 }, () => open(schema));
    const results = await Promise.all(starting.map((store, k) => store.enqueue({ studyInstanceUID: `7.${k}`, modelKey: MODEL, source: 'changes' })));
    assert.equal(results.filter((r) => r.created).length, 5);
    const queues = await admin.query(`SELECT name FROM ${schema}_boss.queue WHERE name = $1`, [BOSS_QUEUE]);
    assert.equal(queues.rowCount, 1);
    assert.deepEqual(await disagreements(schema), []);
  });

  test('the connection dying between our row and its pg-boss job leaves neither; the next announcement makes both', async () => {
    const schema = freshSchema();
    let cut = true;
    const store = open(schema, {
      afterRowWritten: async (client) => {
        // The server ends this very connection, mid-transaction: what a crash or a restart does.
        if (cut) await client.query('SELECT pg_terminate_backend(pg_backend_pid())').catch(() => undefined);
      },
    });
    await assert.rejects(store.enqueue({ studyInstanceUID: '2.1', modelKey: MODEL, source: 'changes' }));
    assert.deepEqual(await store.findByStudy('2.1'), [], 'no row without its pg-boss job');
    assert.equal((await admin.query(`SELECT 1 FROM ${schema}_boss.job WHERE name = $1`, [BOSS_QUEUE])).rowCount, 0, 'no pg-boss job without its row');
    cut = false;
    const { job, created } = await store.enqueue({ studyInstanceUID: '2.1', modelKey: MODEL, source: 'changes' });
    assert.equal(created, true);
    assert.deepEqual(await disagreements(schema), []);
    const claimed = await store.claim('w', 10_000);
    assert.equal(claimed?.id, job.id);
    assert.deepEqual(await disagreements(schema), []);
  });

  test('row and pg-boss job agree through every transition: claim, retry, lease expiry, reprocess, shutdown, finish', async () => {
    const schema = freshSchema();
    const store = open(schema);
    const ids = [];
    for (let i = 0; i < 6; i++) ids.push((await store.enqueue({ studyInstanceUID: `3.${i}`, modelKey: MODEL, source: 'changes' })).job.id);
    assert.deepEqual(await disagreements(schema), []);
    const a = (await store.claim('w1', 60_000))!;
    const b = (await store.claim('w1', 60_000))!;
    const c = (await store.claim('dead', 1))!;
    const d = (await store.claim('w2', 60_000))!;
    assert.deepEqual(await disagreements(schema), []);
    assert.ok(await store.complete(a.id, 'w1', { diagnosis: 'NOR' }, {}));
    assert.ok(await store.retry(b.id, 'w1', 'Orthanc down', Date.now() + 60_000, {}));
    assert.ok(await store.fail(d.id, 'w2', 'BadInputError: no cine', {}));
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(await store.recoverExpiredLeases(8), 1, "the dead worker's job");
    assert.deepEqual(await disagreements(schema), []);
    assert.equal((await store.enqueue({ studyInstanceUID: a.studyInstanceUID, modelKey: MODEL, source: 'api', force: true })).created, true, 'reprocess: the same row');
    const e = (await store.claim('w3', 60_000))!;
    assert.equal(await store.releaseOwner('w3'), 1);
    assert.deepEqual(await disagreements(schema), []);
    assert.equal((await store.get(e.id))!.state, 'queued');
    // Every row that waits is delivered once more, none twice, the one in backoff not yet.
    const claimed = new Set<number>();
    for (let job = await store.claim('w4', 60_000); job; job = await store.claim('w4', 60_000)) claimed.add(job.id);
    assert.deepEqual([...claimed].sort(), [a.id, c.id, ids[4], ids[5]].sort());
    assert.deepEqual(await disagreements(schema), []);
  });

  test("two installations in one database with different schemas never see each other's jobs", async () => {
    const [x, y] = [freshSchema(), freshSchema()];
    const siteX = open(x);
    const siteY = open(y);
    const inX = await siteX.enqueue({ studyInstanceUID: '4.1', modelKey: MODEL, source: 'changes' });
    assert.equal(await siteY.claim('y-worker', 10_000), undefined, "Y's workers find nothing of X's");
    const inY = await siteY.enqueue({ studyInstanceUID: '4.1', modelKey: MODEL, source: 'changes' });
    assert.equal(inY.created, true, 'the same study is a job of each installation');
    assert.equal((await siteY.claim('y-worker', 10_000))?.id, inY.job.id);
    assert.equal((await siteX.claim('x-worker', 10_000))?.id, inX.job.id);
    assert.equal(await siteX.claim('x-worker', 10_000), undefined);
    assert.deepEqual([await disagreements(x), await disagreements(y)], [[], []]);
  });

  test('a queued row whose pg-boss job went missing, or a table from before pg-boss, is delivered again when a store starts', async () => {
    const schema = freshSchema();
    const first = open(schema);
    const { job } = await first.enqueue({ studyInstanceUID: '5.1', modelKey: MODEL, source: 'changes' });
    // An operator clears pg-boss's jobs; a row of the store before pg-boss has no delivery at all.
    await admin.query(`DELETE FROM ${schema}_boss.job`);
    await admin.query(
      `INSERT INTO ${schema}.jobs (study_uid, model_key, state, source, priority, created_at, queued_at, updated_at) VALUES ('5.2', $1, 'queued', 'changes', 0, 1, 1, 1)`,
      [MODEL],
    );
    assert.equal(await first.claim('w', 10_000), undefined, 'nothing delivers them');
    const second = open(schema);
    const claimed = [(await second.claim('w', 10_000))?.studyInstanceUID, (await second.claim('w', 10_000))?.studyInstanceUID];
    assert.deepEqual(claimed, ['5.1', '5.2']);
    assert.equal((await second.get(job.id))!.state, 'running');
    assert.deepEqual(await disagreements(schema), []);
  });

  test('a pg-boss job whose row no longer waits for it is completed and passed over', async () => {
    const schema = freshSchema();
    const store = open(schema);
    const stale = (await store.enqueue({ studyInstanceUID: '6.1', modelKey: MODEL, source: 'changes' })).job;
    const fresh = (await store.enqueue({ studyInstanceUID: '6.2', modelKey: MODEL, source: 'changes' })).job;
    // Finished by hand behind pg-boss's back.
    await admin.query(`UPDATE ${schema}.jobs SET state = 'done' WHERE id = $1`, [stale.id]);
    assert.equal((await store.claim('w', 10_000))?.id, fresh.id);
    assert.equal((await store.get(stale.id))!.state, 'done', 'left as it was');
    assert.deepEqual(await disagreements(schema), []);
  });

  test('a claim never waits for a row another transaction holds (a priority raise under way): it takes it once that commits', async () => {
    const schema = freshSchema();
    const store = open(schema);
    const { job } = await store.enqueue({ studyInstanceUID: '7.1', modelKey: MODEL, source: 'api', priority: -10 });
    const holder = await admin.connect();
    try {
      await holder.query('BEGIN');
      await holder.query(`SELECT id FROM ${schema}.jobs WHERE id = $1 FOR UPDATE`, [job.id]);
      // Without the check the claim would wait for the row while holding its pg-boss job, and an
      // enqueue holding the row would wait for that job: a deadlock.
      assert.equal(await store.claim('w', 10_000), undefined);
      await holder.query('COMMIT');
    } finally {
      holder.release();
    }
    assert.equal((await store.claim('w', 10_000))?.id, job.id);
    assert.deepEqual(await disagreements(schema), []);
  });

  test('priority raises and claims of the same rows at once: each row claimed once, row and pg-boss job agree', async () => {
    const schema = freshSchema();
    const store = open(schema);
    const other = open(schema);
    const uids = Array.from({ length: 12 }, (_, i) => `8.${i}`);
    for (const uid of uids) await store.enqueue({ studyInstanceUID: uid, modelKey: MODEL, source: 'api', priority: -10 });
    const claims: Array<Promise<unknown>> = [];
    const raises = uids.map((uid) => other.enqueue({ studyInstanceUID: uid, modelKey: MODEL, source: 'changes', priority: 0 }));
    for (let i = 0; i < 12; i++) claims.push(store.claim(`w${i}`, 60_000));
    await Promise.all([...raises, ...claims]);
    for (let job = await store.claim('late', 60_000); job; job = await store.claim('late', 60_000));
    const jobs = await Promise.all(uids.map(async (uid) => (await store.findByStudy(uid))[0]!));
    assert.deepEqual(jobs.map((j) => j.state), uids.map(() => 'running'), 'every row claimed once');
    assert.ok(jobs.every((j) => j.attempts === 1));
    assert.deepEqual(await disagreements(schema), []);
  });

  test("PostgreSQL stopped under pg-boss's background work: its errors are reported, the process lives on, and the store works again once the server is back", async () => {
    const schema = freshSchema();
    const warnings: string[] = [];
    const logger: Logger = { error: () => undefined, warn: (message) => warnings.push(message), info: () => undefined, debug: () => undefined };
    // pg-boss's supervision every second, so it runs while the server is down.
    const store = open(schema, { logger, bossIntervalSeconds: 1 });
    const { job } = await store.enqueue({ studyInstanceUID: '9.1', modelKey: MODEL, source: 'changes' });
    await server.restart(4000);
    // An unheard pg-boss 'error' event would have ended this test process by now.
    assert.ok(warnings.includes('pg-boss background work failed; it tries again'), `pg-boss's failures reported: ${JSON.stringify(warnings)}`);
    let claimed;
    for (let tries = 0; claimed === undefined && tries < 50; tries++) {
      claimed = await store.claim('w', 10_000).catch(() => undefined);
      if (claimed === undefined) await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(claimed?.id, job.id);
    assert.ok(await store.complete(job.id, 'w', {}, {}));
    assert.deepEqual(await disagreements(schema), []);
  });

  test("a pg-boss schema left by a newer pg-boss stops the store with what to do; dropped, every queued row is delivered again", async () => {
    const schema = freshSchema();
    const first = open(schema);
    const { job } = await first.enqueue({ studyInstanceUID: '10.1', modelKey: MODEL, source: 'changes' });
    // As pg-boss 12 would leave it: a later schema version, which pg-boss 10 neither migrates nor notices.
    await admin.query(`UPDATE ${schema}_boss.version SET version = 99`);
    await assert.rejects(open(schema).claim('w', 10_000), new RegExp(`${schema}_boss is at version 99, pg-boss 10.3.3 needs 24.*DROP SCHEMA ${schema}_boss CASCADE`));
    await admin.query(`DROP SCHEMA ${schema}_boss CASCADE`);
    assert.equal((await open(schema).claim('w', 10_000))?.id, job.id);
    assert.deepEqual(await disagreements(schema), []);
  });
});
