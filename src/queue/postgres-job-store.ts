/**
 * The job store on PostgreSQL, for several service replicas (on several machines) sharing one queue.
 *
 * Plain node-postgres (`pg`) on our own tables, with the pattern pg-boss and graphile-worker are built
 * on: a claim is one `UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED)` (concurrent workers never
 * take the same row and never wait for each other), every later state change is one statement guarded
 * by the lease owner, and the changes listener's singleton is one compare-and-set row. We keep our
 * table rather than pg-boss's because our semantics are one row per study and model key for its whole
 * life (done, failed with a reason, queued again by reprocess or by a changed study, listed on the
 * dashboard), while a pg-boss job is one delivery that is archived once finished.
 *
 * Times are PostgreSQL's clock (ms since epoch) unless the caller passes `now`: replicas on machines
 * whose clocks differ still agree on when a lease ran out.
 */
import pg from 'pg';
import type { Logger } from '../core/logger.js';
import { JOB_STATES, JobPriority, type EnqueueRequest, type EnqueueResult, type Job, type JobOutcome, type JobState, type JobStore, type ListOptions } from './job-store.js';
import { jobFromRow, type JobRow } from './job-row.js';

export interface PostgresJobStoreOptions {
  /** postgres://user:password@host:port/database (the password best from PULSE_QUEUE_POSTGRES_URL_FILE). */
  readonly url: string;
  /** PostgreSQL schema holding the tables (created when missing). @defaultValue 'pulse' */
  readonly schema?: string;
  /** Connections per process. @defaultValue 4 */
  readonly poolSize?: number;
  /** Reports connections the server closed while idle (a restart); the pool replaces them. */
  readonly logger?: Logger;
}

/** PostgreSQL's clock in ms since epoch. */
const NOW_MS = `(floor(extract(epoch from clock_timestamp()) * 1000))::bigint`;
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
CREATE INDEX IF NOT EXISTS jobs_claim ON ${s}.jobs (priority DESC, not_before, id) WHERE state = 'queued';
CREATE INDEX IF NOT EXISTS jobs_running ON ${s}.jobs (lease_until) WHERE state = 'running';
CREATE INDEX IF NOT EXISTS jobs_updated ON ${s}.jobs (updated_at DESC, id DESC);
CREATE TABLE IF NOT EXISTS ${s}.kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS ${s}.singletons (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until BIGINT NOT NULL);
`;

/** node-postgres hands back the boolean and the JSONB columns decoded. */
type Row = JobRow;
const toJob = jobFromRow;

/** BIGINT (ids, times in ms, counts) as numbers: every value here stays far below 2^53. */
const INT8_OID = 20;
const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
    oid === INT8_OID && format !== 'binary' ? (text: string) => Number(text) : pg.types.getTypeParser(oid, format ?? 'text')) as pg.CustomTypesConfig['getTypeParser'],
};

/** A schema name we put into SQL text: letters, digits and underscores only. */
function checkedSchema(name: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/u.test(name)) throw new Error(`queue.postgres.schema must be a lower-case SQL identifier, not ${JSON.stringify(name)}`);
  return name;
}

export class PostgresJobStore implements JobStore {
  private readonly pool: pg.Pool;
  private readonly s: string;
  private migrated: Promise<void> | undefined;

  constructor(options: PostgresJobStoreOptions) {
    this.s = checkedSchema(options.schema ?? 'pulse');
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
  }

  /** Creates the schema once per process; retried on the next call when the server was unreachable. */
  private ready(): Promise<void> {
    this.migrated ??= this.inTransaction(async (db) => {
      // Replicas starting together: one creates the tables, the others wait for it.
      await db.query(`SELECT pg_advisory_xact_lock(hashtext('pulse.schema.' || $1::text))`, [this.s]);
      await db.query(schemaSql(this.s));
    }).catch((error: unknown) => {
      this.migrated = undefined;
      throw error;
    });
    return this.migrated;
  }

  private async query<R extends pg.QueryResultRow>(text: string, values: unknown[] = []): Promise<pg.QueryResult<R>> {
    await this.ready();
    return this.pool.query<R>(text, values);
  }

  private async transaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    await this.ready();
    return this.inTransaction(work);
  }

  private async inTransaction<T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    // A checked-out client has no listener of the pool's: a socket error while we hold it (the server
    // restarting) would be an unhandled 'error' event and end the process. The query in flight fails
    // with the same error, which is what we report.
    const onError = (): void => undefined;
    client.on('error', onError);
    let failure: unknown;
    try {
      await client.query('BEGIN');
      const value = await work(client);
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

  async enqueue(request: EnqueueRequest): Promise<EnqueueResult> {
    const priority = request.priority ?? JobPriority.newStudy;
    const { s } = this;
    return this.transaction(async (db) => {
      // Insert-or-nothing first: two replicas announcing the same new study make one row.
      const inserted = await db.query<Row>(
        `INSERT INTO ${s}.jobs (study_uid, model_key, orthanc_id, state, source, priority, trigger_version, forced, created_at, queued_at, updated_at, not_before)
         SELECT $1, $2, $3, 'queued', $4, $5, $6, $7, t.now, t.now, t.now, 0 FROM (SELECT ${NOW_MS} AS now) t
         ON CONFLICT (study_uid, model_key) DO NOTHING RETURNING *`,
        [request.studyInstanceUID, request.modelKey, request.orthancStudyId ?? null, request.source, priority, request.triggerVersion ?? null, request.force === true],
      );
      if (inserted.rows[0]) return { job: toJob(inserted.rows[0]), created: true };
      const existing = (await db.query<Row>(`SELECT * FROM ${s}.jobs WHERE study_uid = $1 AND model_key = $2 FOR UPDATE`, [request.studyInstanceUID, request.modelKey])).rows[0];
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
            await db.query<Row>(
              `UPDATE ${s}.jobs SET forced = forced OR $1, priority = GREATEST(priority, $2), updated_at = ${NOW_MS} WHERE id = $3 RETURNING *`,
              [request.force === true, priority, existing.id],
            )
          ).rows[0]!;
          return { job: toJob(row), created: false };
        }
        return { job: toJob(existing), created: false };
      }
      const row = (
        await db.query<Row>(
          `UPDATE ${s}.jobs SET state = 'queued', attempts = 0, not_before = 0, lease_owner = NULL, lease_until = NULL,
             retries = 0, retry_since = NULL, reason = NULL, forced = $1, source = $2, priority = $3, trigger_version = COALESCE($4, trigger_version),
             orthanc_id = COALESCE($5, orthanc_id), updated_at = t.now, queued_at = t.now, started_at = NULL, finished_at = NULL,
             timings = '{}', outcome = NULL
           FROM (SELECT ${NOW_MS} AS now) t
           WHERE id = $6 RETURNING ${s}.jobs.*`,
          [request.force === true, request.source, priority, request.triggerVersion ?? null, request.orthancStudyId ?? null, existing.id],
        )
      ).rows[0]!;
      return { job: toJob(row), created: true };
    });
  }

  async claim(owner: string, leaseMs: number, now?: number): Promise<Job | undefined> {
    const { s } = this;
    // SKIP LOCKED: workers claiming at the same moment each take a different row, none waits.
    const row = (
      await this.query<Row>(
        `WITH t AS (SELECT ${nowOr('$3')} AS now)
         UPDATE ${s}.jobs SET state = 'running', lease_owner = $1, lease_until = t.now + $2, attempts = attempts + 1,
           started_at = t.now, updated_at = t.now
         FROM t
         WHERE id = (SELECT id FROM ${s}.jobs, t WHERE state = 'queued' AND not_before <= t.now
                     ORDER BY priority DESC, not_before, id LIMIT 1 FOR UPDATE OF jobs SKIP LOCKED)
         RETURNING ${s}.jobs.*`,
        [owner, leaseMs, now ?? null],
      )
    ).rows[0];
    return row ? toJob(row) : undefined;
  }

  async renewLease(id: number, owner: string, leaseMs: number, now?: number): Promise<boolean> {
    const result = await this.query(`UPDATE ${this.s}.jobs SET lease_until = ${nowOr('$4')} + $3 WHERE id = $1 AND state = 'running' AND lease_owner = $2`, [id, owner, leaseMs, now ?? null]);
    return result.rowCount === 1;
  }

  private async finish(id: number, owner: string, state: JobState, reason: string | null, outcome: JobOutcome | null, timings: Record<string, number>): Promise<boolean> {
    const result = await this.query(
      `UPDATE ${this.s}.jobs SET state = $3, reason = $4, outcome = $5::jsonb, timings = $6::jsonb, finished_at = ${NOW_MS}, updated_at = ${NOW_MS},
         lease_owner = NULL, lease_until = NULL
       WHERE id = $1 AND state = 'running' AND lease_owner = $2`,
      [id, owner, state, reason, outcome === null ? null : JSON.stringify(outcome), JSON.stringify(timings)],
    );
    return result.rowCount === 1;
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
    const result = await this.query(
      `UPDATE ${this.s}.jobs SET state = 'queued', reason = $3, not_before = $4, queued_at = $4, timings = $5::jsonb, updated_at = t.now,
         attempts = GREATEST(attempts - 1, 0), retries = retries + 1, retry_since = COALESCE(retry_since, t.now),
         lease_owner = NULL, lease_until = NULL
       FROM (SELECT ${NOW_MS} AS now) t
       WHERE id = $1 AND state = 'running' AND lease_owner = $2`,
      [id, owner, reason, notBefore, JSON.stringify(timings)],
    );
    return result.rowCount === 1;
  }

  async recoverExpiredLeases(maxAttempts: number, now?: number): Promise<number> {
    const { s } = this;
    return this.transaction(async (db) => {
      const failed = await db.query(
        `UPDATE ${s}.jobs SET state = 'failed', reason = 'the worker running it stopped (lease expired) ' || attempts || ' times',
           finished_at = t.now, updated_at = t.now, lease_owner = NULL, lease_until = NULL
         FROM (SELECT ${nowOr('$1')} AS now) t
         WHERE state = 'running' AND lease_until < t.now AND attempts >= $2`,
        [now ?? null, maxAttempts],
      );
      const requeued = await db.query(
        `UPDATE ${s}.jobs SET state = 'queued', reason = 'requeued: the worker running it stopped (lease expired)',
           not_before = 0, queued_at = t.now, updated_at = t.now, lease_owner = NULL, lease_until = NULL
         FROM (SELECT ${nowOr('$1')} AS now) t
         WHERE state = 'running' AND lease_until < t.now`,
        [now ?? null],
      );
      return (failed.rowCount ?? 0) + (requeued.rowCount ?? 0);
    });
  }

  async releaseOwner(owner: string): Promise<number> {
    const result = await this.query(
      `UPDATE ${this.s}.jobs SET state = 'queued', attempts = GREATEST(attempts - 1, 0), reason = 'requeued at shutdown',
         not_before = 0, queued_at = ${NOW_MS}, updated_at = ${NOW_MS}, lease_owner = NULL, lease_until = NULL
       WHERE state = 'running' AND lease_owner = $1`,
      [owner],
    );
    return result.rowCount ?? 0;
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
    await this.pool.end().catch(() => undefined);
  }
}
