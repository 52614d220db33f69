/**
 * The job store on PostgreSQL, for several service replicas (on several machines) sharing one queue.
 *
 * Two parts, always written in one transaction so they can never disagree:
 * - pg-boss (its own schema, `<schema>_boss`) carries delivery: which job a worker takes next (its
 *   fetch, `FOR UPDATE SKIP LOCKED`, highest priority first), when a job waiting out a backoff becomes
 *   due (`startAfter`), and that a study and model key never waits twice (a `short` queue keyed by
 *   our row: PostgreSQL refuses a second waiting pg-boss job for a row).
 * - our `jobs` table is the durable record the dashboard and the API read: one row per study and model
 *   key for its whole life (state, attempts, reasons, outcome; a reprocess puts the same row back), and
 *   the lease of the worker running it (owner, renewed by the heartbeat). A row is claimed only while
 *   queued and only by the pg-boss job it waits for, so it never runs twice. pg-boss's own expiration
 *   (at least a second, at most under 24 h, found by its maintenance every couple of minutes, no
 *   heartbeat in 10.x) cannot hold a 15 s lease nor follow a clock the caller gives, so leases stay
 *   here (docs/queue.md).
 *
 * Each pg-boss job carries `{ row }`; our row keeps the id of the pg-boss job delivering it
 * (`boss_id`). A queued row has exactly one pg-boss job waiting; a running row has its pg-boss job
 * active; a finished row has none live. A pg-boss job fetched whose row no longer waits for it (changed
 * by hand, or by a version of this store that did not keep the two together) is completed and passed over.
 *
 * Times are PostgreSQL's clock (ms since epoch) unless the caller passes `now`: replicas on machines
 * whose clocks differ still agree on when a lease ran out.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import PgBoss from 'pg-boss';
import type { Logger } from '../core/logger.js';
import { JOB_STATES, JobPriority, type EnqueueRequest, type EnqueueResult, type Job, type JobOutcome, type JobState, type JobStore, type ListOptions } from './job-store.js';
import { jobFromRow, type JobRow } from './job-row.js';

type IDatabase = PgBoss.Db;
type BossJob<T> = PgBoss.Job<T>;

export interface PostgresJobStoreOptions {
  /** postgres://user:password@host:port/database (the password best from PULSE_QUEUE_POSTGRES_URL_FILE). */
  readonly url: string;
  /** PostgreSQL schema holding our tables (created when missing); pg-boss's go to `<schema>_boss`. @defaultValue 'pulse' */
  readonly schema?: string;
  /** Connections per process (pg-boss's statements share them). @defaultValue 4 */
  readonly poolSize?: number;
  /** Reports connections the server closed while idle (a restart) and pg-boss's background errors. */
  readonly logger?: Logger;
  /**
   * Runs inside enqueue's transaction after our row is written and before its pg-boss job is sent.
   * For tests that cut the connection there (a crash between the two writes).
   */
  readonly afterRowWritten?: (client: pg.PoolClient) => Promise<void>;
  /** pg-boss's maintenance interval (s); tests shorten it. @defaultValue 120 (pg-boss's) */
  readonly bossIntervalSeconds?: number;
}

/** The one pg-boss queue of a PULSE installation (each installation has its own pg-boss schema). */
export const BOSS_QUEUE = 'pulse-jobs';
/** The schema version pg-boss 10.3.3 installs (its version.json). */
const BOSS_SCHEMA_VERSION = 24;

/** What a pg-boss job carries: the id of the row it delivers. */
interface Delivery {
  readonly row: number;
}

/** Our row plus the id of the pg-boss job delivering it. */
type Row = JobRow & { boss_id: string | null };
const toJob = (row: Row): Job => jobFromRow(row);

/** PostgreSQL's clock in ms since epoch. */
const NOW_MS = `(floor(extract(epoch from clock_timestamp()) * 1000))::bigint`;
/** The start of the transaction in ms since epoch: the `now()` pg-boss's fetch compares `start_after` to. */
const TX_NOW_MS = `(floor(extract(epoch from now()) * 1000))::bigint`;
/** `$n` when the caller gave a time, else the server's clock. */
const nowOr = (param: string): string => `COALESCE(${param}::bigint, ${NOW_MS})`;

const schemaSql = (s: string): string => `
CREATE SCHEMA IF NOT EXISTS ${s};
CREATE TABLE IF NOT EXISTS ${s}.jobs (
  id BIGSERIAL PRIMARY KEY,
  study_uid TEXT NOT NULL,
  model_key TEXT NOT NULL,
  orthanc_id TEXT,
  state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed','skipped')),
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before BIGINT NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_until BIGINT,
  reason TEXT,
  forced BOOLEAN NOT NULL DEFAULT false,
  source TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  trigger_version TEXT,
  created_at BIGINT NOT NULL,
  queued_at BIGINT NOT NULL,
  updated_at BIGINT NOT NULL,
  started_at BIGINT,
  finished_at BIGINT,
  timings JSONB NOT NULL DEFAULT '{}',
  outcome JSONB,
  retries INTEGER NOT NULL DEFAULT 0,
  retry_since BIGINT,
  UNIQUE (study_uid, model_key)
);
-- Tables of the store before pg-boss delivered its jobs: the queued rows get their pg-boss job at start.
ALTER TABLE ${s}.jobs ADD COLUMN IF NOT EXISTS boss_id TEXT;
DROP INDEX IF EXISTS ${s}.jobs_claim;
CREATE INDEX IF NOT EXISTS jobs_queued ON ${s}.jobs (not_before) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS jobs_running ON ${s}.jobs (lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_updated ON ${s}.jobs (updated_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS ${s}.kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.singletons (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until BIGINT NOT NULL);
`;

/** BIGINT (ids, times in ms, counts) as numbers in our tables: every value here stays far below 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (text: string) => Number(text) : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/**
 * pg-boss's statements on our connections (its `db` option): with node-postgres's own type parsers,
 * as pg-boss expects, not our BIGINT-as-number ones.
 */
function bossDatabase(runner: pg.Pool | pg.PoolClient): IDatabase {
  return {
    executeSql: async (text: string, values?: unknown[]) => (await runner.query({ text, ...(values === undefined ? {} : { values }), types: pg.types })) as unknown as { rows: unknown[] },
  };
}

/**
 * pg-boss job ids that sort in the order they were made (UUID version 7: ms since epoch, then a
 * counter within the ms, then random bits). pg-boss 10's fetch breaks ties of priority and
 * `created_on` (the sending transaction's start: every job one transaction sends shares it) by id,
 * random by default; ours keep the order in which one transaction delivered its rows.
 */
let lastIdMs = 0;
let idCounter = 0;
function orderedJobId(nowMs = Date.now()): string {
  if (nowMs > lastIdMs) {
    lastIdMs = nowMs;
    idCounter = 0;
  } else if (++idCounter > 0xfff) {
    // 4096 ids in one ms: borrow the next ms, so the order still holds.
    lastIdMs += 1;
    idCounter = 0;
  }
  const bytes = randomBytes(16);
  bytes.writeUIntBE(lastIdMs, 0, 6);
  bytes.writeUInt16BE(0x7000 | idCounter, 6);
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A schema name we put into SQL text: letters, digits and underscores only, room left for `_boss`. */
function checkedSchema(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,57}$/u.test(name)) throw new Error(`queue.postgres.schema must be a lower-case SQL identifier of at most 58 characters, not ${JSON.stringify(name)}`);
  return name;
}

/** Jobs fetched from pg-boss whose row did not wait for them, passed over in one claim before it gives up. */
const MAX_STALE_PER_CLAIM = 20;
/** Claims given back because the fetched job's row was busy, before a claim reports nothing due. */
const MAX_BUSY_RETRIES = 5;
/** SQLSTATE deadlock_detected, and how often a deadlock victim starting the store tries again. */
const DEADLOCK = '40P01';
const MAX_DEADLOCK_RETRIES = 5;
/** The row of a fetched pg-boss job is locked by another transaction: give the job back and claim again. */
class RowBusy extends Error {}
/** How often queued rows are checked for a live pg-boss job (a job pg-boss dropped is sent again). */
const RECONCILE_INTERVAL_MS = 60_000;

export class PostgresJobStore implements JobStore {
  private readonly pool: pg.Pool;
  private readonly s: string;
  /** pg-boss's schema: beside ours, so installations sharing a database never see each other's jobs. */
  readonly bossSchema: string;
  private readonly boss: PgBoss;
  private migrated: Promise<void> | undefined;
  private lastReconcile = 0;
  private closed = false;

  constructor(private readonly options: PostgresJobStoreOptions) {
    this.s = checkedSchema(options.schema ?? 'pulse');
    this.bossSchema = `${this.s}_boss`;
    this.pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 4,
      connectionTimeoutMillis: 10_000,
      // A statement that hangs (a server gone without closing the socket) must not stall the worker.
      query_timeout: 30_000,
      keepAlive: true,
      types,
      application_name: 'pulse',
    });
    // An idle connection the server closed (restart, failover) emits here; without a listener the
    // process would end. The pool opens a fresh one for the next query.
    this.pool.on('error', (error) => options.logger?.warn('job store connection lost; reconnecting on next use', { error: error.message }));
    this.boss = new PgBoss({
      db: bossDatabase(this.pool),
      schema: this.bossSchema,
      // Its maintenance moves finished pg-boss jobs to its archive after 12 h and deletes them from
      // there after a week (our rows keep the record), and fails active ones older than the queue's
      // expiration (our leases find a dead worker's job long before).
      supervise: true,
      deleteAfterDays: 7,
      ...(options.bossIntervalSeconds === undefined ? {} : { maintenanceIntervalSeconds: options.bossIntervalSeconds }),
      // No cron: its timekeeper would also poll the server's clock.
      schedule: false,
    });
    // pg-boss reports failed background work (maintenance while the server restarts) as 'error'
    // events: unheard, one would end the process. The work is tried again on its next interval.
    this.boss.on('error', (error: Error) => options.logger?.warn('pg-boss background work failed; it tries again', { error: error.message }));
  }

  /**
   * Creates our tables, then pg-boss's schema and queue, once per process; tried again on the next call
   * while the server is unreachable. Rows queued before pg-boss delivered them get their pg-boss job.
   */
  private ready(): Promise<void> {
    this.migrated ??= (async () => {
      await this.inTransaction(async (db) => {
        // Replicas starting together: one creates the tables, the others wait for it.
        await db.query(`SELECT pg_advisory_xact_lock(hashtext('pulse.schema.' || $1::text))`, [this.s]);
        await db.query(schemaSql(this.s));
        // pg-boss's schema too, under the same lock: two CREATE SCHEMA IF NOT EXISTS racing are
        // answered by PostgreSQL with a unique violation on pg_namespace. (pg-boss 10 creates its
        // schema under its own advisory lock and tolerates a concurrent install, "already exists";
        // creating it here first keeps that true whatever pg-boss does.)
        await db.query(`CREATE SCHEMA IF NOT EXISTS ${this.bossSchema}`);
      });
      // pg-boss installs or migrates its schema under its own advisory lock; start() may be called
      // again on the same instance after a failure.
      await this.boss.start();
      // pg-boss 10 migrates forward only and does not notice a newer schema: one left by a newer
      // pg-boss would meet statements written for another layout.
      const version = Number(await this.boss.schemaVersion());
      if (version !== BOSS_SCHEMA_VERSION) {
        throw new Error(
          `pg-boss's schema ${this.bossSchema} is at version ${version}, pg-boss 10.3.3 needs ${BOSS_SCHEMA_VERSION} (installed by a newer pg-boss?): ` +
            `with the service stopped, DROP SCHEMA ${this.bossSchema} CASCADE; queued jobs are delivered again at the next start`,
        );
      }
      await this.createBossQueue();
      await this.reconcile(true);
    })().catch((error: unknown) => {
      this.migrated = undefined;
      throw error;
    });
    return this.migrated;
  }

  /**
   * pg-boss's queue, once. Replicas starting together on a new schema: pg-boss's create_queue inserts
   * the queue's row and then attaches its partition to the job table, so two running at once can
   * deadlock (PostgreSQL aborts one, SQLSTATE 40P01; seen with three stores starting together). The
   * aborted one tries again and finds the queue made by the other.
   */
  private async createBossQueue(): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        if (await this.boss.getQueue(BOSS_QUEUE)) return;
        await this.boss.createQueue(BOSS_QUEUE, {
          name: BOSS_QUEUE,
          // One pg-boss job waiting per key (our row): PostgreSQL refuses a second (docs/queue.md says
          // why `short` rather than `stately`). That a row never runs twice is our row's guarantee.
          policy: 'short',
          // Retries are ours (budgeted in time, attempts counted on our row): pg-boss never retries.
          retryLimit: 0,
          // Just under the 24 h pg-boss allows: a running study's lease is ours, renewed by our heartbeat.
          expireInSeconds: 23 * 3600,
          // A queued job waits as long as it must (a backlog after a long outage). pg-boss 10 reads only
          // retentionMinutes from a queue's options (retentionSeconds there is silently dropped).
          retentionMinutes: 365 * 24 * 60,
        });
        return;
      } catch (error) {
        if ((error as { code?: unknown }).code !== DEADLOCK || attempt >= MAX_DEADLOCK_RETRIES) throw error;
        await new Promise((done) => setTimeout(done, 20 * attempt + Math.floor(Math.random() * 20)));
      }
    }
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.ready();
    return this.pool.query<R>(text, values);
  }

  private async transaction<T>(work: (client: pg.PoolClient, boss: IDatabase) => Promise<T>): Promise<T> {
    await this.ready();
    return this.inTransaction(work);
  }

  private async inTransaction<T>(work: (client: pg.PoolClient, boss: IDatabase) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out client has no listener of the pool's: a socket error while we hold it (the server
    // restarting) would be an unhandled 'error' event and end the process. The query in flight fails
    // with the same error, which is what we report.
    const onError = (): void => undefined;
    client.on('error', onError);
    let failure: unknown;
    try {
      await client.query('BEGIN');
      const value = await work(client, bossDatabase(client));
      await client.query('COMMIT');
      return value;
    } catch (error) {
      failure = error;
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    } finally {
      client.removeListener('error', onError);
      // After a failure the connection may be broken: the pool closes it rather than lend it again.
      client.release(failure === undefined ? undefined : true);
    }
  }

  /** Sends the pg-boss job that delivers a queued row, in the caller's transaction, and records its id. */
  private async deliver(client: pg.PoolClient, db: IDatabase, row: Pick<Row, 'id' | 'priority' | 'not_before'>, dueNow = false): Promise<string> {
    const id = await this.boss.send(BOSS_QUEUE, { row: row.id } satisfies Delivery, {
      db,
      id: orderedJobId(),
      priority: row.priority,
      singletonKey: String(row.id),
      // pg-boss 10 takes a job once `start_after < now()`, now() being the start of the fetching
      // transaction; without startAfter a job starts at the sending transaction's now(). A delivery
      // fetched in the transaction that sends it must start before that: '-1' is pg-boss's
      // seconds-from-now form (a string, as pg-boss drops numbers that are not positive).
      ...(dueNow ? { startAfter: '-1' } : row.not_before > 0 ? { startAfter: new Date(row.not_before) } : {}),
    });
    // The short queue refused it: a pg-boss job for this row is still waiting, which the row's state
    // says cannot be. Roll back rather than let the two disagree.
    if (id === null) throw new Error(`job ${row.id} already has a pg-boss job waiting`);
    await client.query(`UPDATE ${this.s}.jobs SET boss_id = $2 WHERE id = $1`, [row.id, id]);
    return id;
  }

  /** Ends the pg-boss job that delivered a row (done: completed; failed: failed; replaced: cancelled). */
  private async settleDelivery(db: IDatabase, bossId: string | null, how: 'complete' | 'fail' | 'cancel', output?: object): Promise<void> {
    if (bossId === null) return;
    // A job pg-boss already settled (its own expiry, or an operator) is left as it is: affected 0.
    if (how === 'complete') {
      // pg-boss 10 completes active jobs only; one still waiting (which our row's state says cannot
      // be) is cancelled rather than left live. Cancelling a completed job changes nothing.
      await this.boss.complete(BOSS_QUEUE, bossId, output ?? {}, { db });
      await this.boss.cancel(BOSS_QUEUE, bossId, { db });
    } else if (how === 'fail') await this.boss.fail(BOSS_QUEUE, bossId, output ?? {}, { db });
    else await this.boss.cancel(BOSS_QUEUE, bossId, { db });
  }

  /**
   * Queued rows whose pg-boss job is missing or no longer waiting (rows from before pg-boss, or a job
   * pg-boss's retention or an operator removed) get a new one. Reads pg-boss's job table.
   */
  private async reconcile(force = false): Promise<number> {
    if (!force && Date.now() - this.lastReconcile < RECONCILE_INTERVAL_MS) return 0;
    this.lastReconcile = Date.now();
    return this.inTransaction(async (client, db) => {
      const orphans = (
        await client.query<Row>(
          `SELECT r.* FROM ${this.s}.jobs r
           WHERE r.state = 'queued' AND NOT EXISTS (
             SELECT 1 FROM ${this.bossSchema}.job b
             WHERE b.name = $1 AND b.id::text = r.boss_id AND b.state IN ('created', 'retry'))
           ORDER BY r.id FOR UPDATE OF r SKIP LOCKED`,
          [BOSS_QUEUE],
        )
      ).rows;
      for (const row of orphans) {
        await this.settleDelivery(db, row.boss_id, 'cancel');
        await this.deliver(client, db, row);
      }
      if (orphans.length > 0) this.options.logger?.warn('queued jobs without a pg-boss job were sent again', { jobs: orphans.length });
      return orphans.length;
    });
  }

  async enqueue(request: EnqueueRequest): Promise<EnqueueResult> {
    const priority = request.priority ?? JobPriority.newStudy;
    const { s } = this;
    return this.transaction(async (client, db) => {
      // Insert-or-nothing first: two replicas announcing the same new study make one row.
      const inserted = (
        await client.query<Row>(
          `INSERT INTO ${s}.jobs (study_uid, model_key, orthanc_id, state, source, priority, trigger_version, forced, created_at, queued_at, updated_at, not_before)
           SELECT $1, $2, $3, 'queued', $4, $5, $6, $7, t.now, t.now, t.now, 0 FROM (SELECT ${NOW_MS} AS now) t
           ON CONFLICT (study_uid, model_key) DO NOTHING RETURNING *`,
          [request.studyInstanceUID, request.modelKey, request.orthancStudyId ?? null, request.source, priority, request.triggerVersion ?? null, request.force === true],
        )
      ).rows[0];
      if (inserted) {
        await this.options.afterRowWritten?.(client);
        const bossId = await this.deliver(client, db, inserted);
        return { job: toJob({ ...inserted, boss_id: bossId }), created: true };
      }
      const existing = (await client.query<Row>(`SELECT * FROM ${s}.jobs WHERE study_uid = $1 AND model_key = $2 FOR UPDATE`, [request.studyInstanceUID, request.modelKey])).rows[0];
      if (!existing) throw new Error(`job of study ${request.studyInstanceUID} vanished while it was queued again`);
      const finished = existing.state === 'done' || existing.state === 'failed' || existing.state === 'skipped';
      const changed =
        (existing.state === 'failed' || existing.state === 'skipped') &&
        request.triggerVersion !== undefined &&
        request.triggerVersion !== existing.trigger_version;
      if (!finished || !(request.force || changed)) {
        // A waiting job asked for again keeps its place, or moves up when the new request outranks it.
        const forced = request.force === true && !existing.forced;
        const raised = priority > existing.priority;
        if (existing.state === 'queued' && (forced || raised)) {
          const row = (
            await client.query<Row>(
              `UPDATE ${s}.jobs SET forced = forced OR $1, priority = GREATEST(priority, $2), updated_at = ${NOW_MS} WHERE id = $3 RETURNING *`,
              [request.force === true, priority, existing.id],
            )
          ).rows[0]!;
          // Its pg-boss job moves up with it: replaced by one of the new priority.
          if (raised) {
            await this.settleDelivery(db, existing.boss_id, 'cancel');
            row.boss_id = await this.deliver(client, db, row);
          }
          return { job: toJob(row), created: false };
        }
        return { job: toJob(existing), created: false };
      }
      const row = (
        await client.query<Row>(
          `UPDATE ${s}.jobs SET state = 'queued', attempts = 0, not_before = 0, lease_owner = NULL, lease_until = NULL,
             retries = 0, retry_since = NULL, reason = NULL, forced = $1, source = $2, priority = $3, trigger_version = COALESCE($4, trigger_version),
             orthanc_id = COALESCE($5, orthanc_id), updated_at = t.now, queued_at = t.now, started_at = NULL, finished_at = NULL,
             timings = '{}', outcome = NULL
           FROM (SELECT ${NOW_MS} AS now) t
           WHERE id = $6 RETURNING ${s}.jobs.*`,
          [request.force === true, request.source, priority, request.triggerVersion ?? null, request.orthancStudyId ?? null, existing.id],
        )
      ).rows[0]!;
      // The same row goes back in the queue with a new delivery.
      row.boss_id = await this.deliver(client, db, row);
      return { job: toJob(row), created: true };
    });
  }

  async claim(owner: string, leaseMs: number, now?: number): Promise<Job | undefined> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.transaction((client, db) => this.claimIn(client, db, owner, leaseMs, now));
      } catch (error) {
        // The row of the job fetched was being changed (its priority raised) by another transaction,
        // which may be waiting for that very pg-boss job: the job went back with the rollback.
        if (!(error instanceof RowBusy) || attempt >= MAX_BUSY_RETRIES) {
          if (error instanceof RowBusy) return undefined;
          throw error;
        }
        await new Promise((done) => setTimeout(done, 10 * attempt));
      }
    }
  }

  private async claimIn(client: pg.PoolClient, db: IDatabase, owner: string, leaseMs: number, now: number | undefined): Promise<Job | undefined> {
    const { s } = this;
    if (now !== undefined) await this.bringForward(client, db, now);
    for (let stale = 0; stale <= MAX_STALE_PER_CLAIM; stale++) {
      // pg-boss's fetch: SKIP LOCKED, so workers claiming at the same moment each take a different
      // job and none waits; highest priority first, then oldest; a job in backoff only once due.
      // pg-boss 10's fetch swallows every error of its statement and answers "nothing due"; in our
      // transaction that would leave it aborted and the claim silently empty. Report it instead.
      let fetchError: unknown;
      const fetchDb: IDatabase = {
        executeSql: (text, values) =>
          db.executeSql(text, values).catch((error: unknown) => {
            fetchError = error;
            throw error;
          }),
      };
      const [delivery] = await this.boss.fetch<Delivery>(BOSS_QUEUE, { db: fetchDb, batchSize: 1 });
      if (fetchError !== undefined) throw fetchError;
      if (delivery === undefined) return undefined;
      // Never wait for the row while holding its pg-boss job: an enqueue raising the row's priority
      // locks the row, then replaces that job (the opposite order, a deadlock).
      const locked = await client.query(`SELECT id FROM ${s}.jobs WHERE id = $1 FOR UPDATE SKIP LOCKED`, [delivery.data.row]);
      if (locked.rowCount === 0 && (await client.query(`SELECT 1 FROM ${s}.jobs WHERE id = $1`, [delivery.data.row])).rowCount === 1) throw new RowBusy();
      const row = (
        await client.query<Row>(
          `WITH t AS (SELECT ${nowOr('$3')} AS now)
           UPDATE ${s}.jobs SET state = 'running', lease_owner = $1, lease_until = t.now + $2, attempts = attempts + 1,
             started_at = t.now, updated_at = t.now
           FROM t
           WHERE id = $4 AND state = 'queued' AND boss_id = $5 AND not_before <= t.now
           RETURNING ${s}.jobs.*`,
          [owner, leaseMs, now ?? null, delivery.data.row, delivery.id],
        )
      ).rows[0];
      if (row) return toJob(row);
      // Its row was not due by the caller's clock: what is left is not due either.
      if (await this.passOver(client, db, delivery)) return undefined;
    }
    return undefined;
  }

  /**
   * A fetched pg-boss job its row did not take is completed. When the row still waits for it (due by
   * pg-boss's clock, not by the caller's `now`; or brought forward by an earlier claim at a later
   * time), the row gets a new delivery due at its own `not_before`, and true is returned; otherwise the
   * row no longer waits for it (finished, or delivered by another job).
   */
  private async passOver(client: pg.PoolClient, db: IDatabase, delivery: BossJob<Delivery>): Promise<boolean> {
    const row = (await client.query<Row>(`SELECT * FROM ${this.s}.jobs WHERE id = $1 FOR UPDATE`, [delivery.data.row])).rows[0];
    await this.boss.complete(BOSS_QUEUE, delivery.id, { passedOver: true }, { db });
    if (row === undefined || row.state !== 'queued' || row.boss_id !== delivery.id) return false;
    await this.deliver(client, db, row);
    return true;
  }

  /**
   * A claim at a time the caller gives (tests of backoff) treats a row in backoff as due once that time
   * passed its `not_before`, though pg-boss, on the server's clock, would hold its job back: the one
   * row that claim would take first gets a delivery that is due now.
   */
  private async bringForward(client: pg.PoolClient, db: IDatabase, now: number): Promise<void> {
    const row = (
      await client.query<Row>(
        `SELECT * FROM ${this.s}.jobs WHERE state = 'queued' AND not_before <= $1 AND not_before >= ${TX_NOW_MS}
         ORDER BY priority DESC, not_before, id LIMIT 1 FOR UPDATE SKIP LOCKED`,
        [now],
      )
    ).rows[0];
    if (row === undefined) return;
    await this.settleDelivery(db, row.boss_id, 'cancel');
    await this.deliver(client, db, row, true);
  }

  async renewLease(id: number, owner: string, leaseMs: number, now?: number): Promise<boolean> {
    const result = await this.query(`UPDATE ${this.s}.jobs SET lease_until = ${nowOr('$4')} + $3 WHERE id = $1 AND state = 'running' AND lease_owner = $2`, [id, owner, leaseMs, now ?? null]);
    return result.rowCount === 1;
  }

  private async finish(id: number, owner: string, state: JobState, reason: string | null, outcome: JobOutcome | null, timings: Record<string, number>): Promise<boolean> {
    return this.transaction(async (client, db) => {
      const row = (
        await client.query<{ boss_id: string | null }>(
          `UPDATE ${this.s}.jobs SET state = $3, reason = $4, outcome = $5::jsonb, timings = $6::jsonb, finished_at = ${NOW_MS}, updated_at = ${NOW_MS},
             lease_owner = NULL, lease_until = NULL
           WHERE id = $1 AND state = 'running' AND lease_owner = $2
           RETURNING boss_id`,
          [id, owner, state, reason, outcome === null ? null : JSON.stringify(outcome), JSON.stringify(timings)],
        )
      ).rows[0];
      if (row === undefined) return false;
      await this.settleDelivery(db, row.boss_id, state === 'failed' ? 'fail' : 'complete', { state });
      return true;
    });
  }

  async complete(id: number, owner: string, outcome: JobOutcome, timings: Record<string, number>): Promise<boolean> {
    return this.finish(id, owner, 'done', null, outcome, timings);
  }

  async skip(id: number, owner: string, reason: string, timings: Record<string, number>): Promise<boolean> {
    return this.finish(id, owner, 'skipped', reason, null, timings);
  }

  async fail(id: number, owner: string, reason: string, timings: Record<string, number>): Promise<boolean> {
    return this.finish(id, owner, 'failed', reason, null, timings);
  }

  async retry(id: number, owner: string, reason: string, notBefore: number, timings: Record<string, number>): Promise<boolean> {
    return this.transaction(async (client, db) => {
      const before = (await client.query<{ boss_id: string | null }>(`SELECT boss_id FROM ${this.s}.jobs WHERE id = $1 AND state = 'running' AND lease_owner = $2 FOR UPDATE`, [id, owner])).rows[0];
      if (before === undefined) return false;
      const row = (
        await client.query<Row>(
          `UPDATE ${this.s}.jobs SET state = 'queued', reason = $2, not_before = $3, queued_at = $3, timings = $4::jsonb, updated_at = t.now,
             attempts = GREATEST(attempts - 1, 0), retries = retries + 1, retry_since = COALESCE(retry_since, t.now),
             lease_owner = NULL, lease_until = NULL
           FROM (SELECT ${NOW_MS} AS now) t
           WHERE id = $1 RETURNING ${this.s}.jobs.*`,
          [id, reason, notBefore, JSON.stringify(timings)],
        )
      ).rows[0]!;
      // The attempt's delivery ends; a new one becomes due after the backoff.
      await this.settleDelivery(db, before.boss_id, 'complete', { retry: true });
      await this.deliver(client, db, row);
      return true;
    });
  }

  async recoverExpiredLeases(maxAttempts: number, now?: number): Promise<number> {
    const { s } = this;
    const recovered = await this.transaction(async (client, db) => {
      const failed = (
        await client.query<{ boss_id: string | null }>(
          `UPDATE ${s}.jobs SET state = 'failed', reason = 'the worker running it stopped (lease expired) ' || attempts || ' times',
             finished_at = t.now, updated_at = t.now, lease_owner = NULL, lease_until = NULL
           FROM (SELECT ${nowOr('$1')} AS now) t
           WHERE state = 'running' AND lease_until < t.now AND attempts >= $2
           RETURNING boss_id`,
          [now ?? null, maxAttempts],
        )
      ).rows;
      for (const row of failed) await this.settleDelivery(db, row.boss_id, 'fail', { state: 'failed' });
      const requeued = await this.requeue(
        client,
        db,
        `reason = 'requeued: the worker running it stopped (lease expired)'`,
        `state = 'running' AND lease_until < ${nowOr('$1')}`,
        [now ?? null],
      );
      return failed.length + requeued;
    });
    // Also the worker's cue, once a minute, to find queued rows whose pg-boss job went missing.
    await this.reconcile();
    return recovered;
  }

  /** Running rows matching `where` go back to the queue, each with a new pg-boss job. */
  private async requeue(client: pg.PoolClient, db: IDatabase, set: string, where: string, values: unknown[]): Promise<number> {
    const rows = (
      await client.query<Row & { old_boss_id: string | null }>(
        `WITH old AS (SELECT id, boss_id FROM ${this.s}.jobs WHERE ${where} FOR UPDATE)
         UPDATE ${this.s}.jobs j SET state = 'queued', ${set}, not_before = 0, queued_at = ${NOW_MS}, updated_at = ${NOW_MS},
           lease_owner = NULL, lease_until = NULL
         FROM old WHERE j.id = old.id
         RETURNING j.*, old.boss_id AS old_boss_id`,
        values,
      )
    ).rows;
    for (const row of rows) {
      await this.settleDelivery(db, row.old_boss_id, 'complete', { requeued: true });
      await this.deliver(client, db, row);
    }
    return rows.length;
  }

  async releaseOwner(owner: string): Promise<number> {
    return this.transaction((client, db) =>
      this.requeue(client, db, `attempts = GREATEST(attempts - 1, 0), reason = 'requeued at shutdown'`, `state = 'running' AND lease_owner = $1`, [owner]),
    );
  }

  async get(id: number): Promise<Job | undefined> {
    const row = (await this.query<Row>(`SELECT * FROM ${this.s}.jobs WHERE id = $1`, [id])).rows[0];
    return row ? toJob(row) : undefined;
  }

  async findByStudy(studyInstanceUID: string, modelKey?: string): Promise<Job[]> {
    const rows = (await this.query<Row>(`SELECT * FROM ${this.s}.jobs WHERE study_uid = $1 AND ($2::text IS NULL OR model_key = $2) ORDER BY id`, [studyInstanceUID, modelKey ?? null])).rows;
    return rows.map(toJob);
  }

  async list(options: ListOptions = {}): Promise<Job[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 100, 10_000));
    const rows = (
      await this.query<Row>(
        `SELECT * FROM ${this.s}.jobs WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR source = $2) ORDER BY updated_at DESC, id DESC LIMIT $3`,
        [options.state ?? null, options.source ?? null, limit],
      )
    ).rows;
    return rows.map(toJob);
  }

  async countByState(): Promise<Record<JobState, number>> {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const row of (await this.query<{ state: JobState; n: number }>(`SELECT state, COUNT(*) AS n FROM ${this.s}.jobs GROUP BY state`)).rows) counts[row.state] = row.n;
    return counts;
  }

  async getValue(key: string): Promise<string | undefined> {
    return (await this.query<{ value: string }>(`SELECT value FROM ${this.s}.kv WHERE key = $1`, [key])).rows[0]?.value;
  }

  async setValue(key: string, value: string): Promise<void> {
    await this.query(`INSERT INTO ${this.s}.kv (key, value) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, [key, value]);
  }

  /**
   * The changes listener's singleton stays a row of ours, not a pg-boss singleton: it is a lease with a
   * TTL renewed while the listener reads (pg-boss's singleton policies bound jobs, not holders).
   */
  async holdSingleton(name: string, owner: string, ttlMs: number, now?: number): Promise<boolean> {
    const { s } = this;
    // One statement: take it when free or expired, renew it when ours; the row lock orders contenders.
    const row = (
      await this.query<{ owner: string }>(
        `INSERT INTO ${s}.singletons (name, owner, until) SELECT $1, $2, t.now + $3 FROM (SELECT ${nowOr('$4')} AS now) t
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
           WHERE ${s}.singletons.owner = excluded.owner OR ${s}.singletons.until < excluded.until - $3
         RETURNING owner`,
        [name, owner, ttlMs, now ?? null],
      )
    ).rows[0];
    return row?.owner === owner;
  }

  async releaseSingleton(name: string, owner: string): Promise<void> {
    await this.query(`DELETE FROM ${this.s}.singletons WHERE name = $1 AND owner = $2`, [name, owner]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // pg-boss's timers first (it does not own the pool), then the connections.
    await this.boss.stop({ graceful: false, close: false }).catch(() => undefined);
    await this.pool.end().catch(() => undefined);
  }
}
