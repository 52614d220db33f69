/**
 * The embedded job store: one SQLite file in WAL mode. Every state change is one statement guarded
 * by the lease owner, so a worker that lost its lease cannot overwrite what another one did.
 */
import Database from 'better-sqlite3';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { JOB_STATES, JobPriority, type EnqueueRequest, type EnqueueResult, type Job, type JobOutcome, type JobState, type JobStore, type ListOptions } from './job-store.js';
import { jobFromRow, type JobRow } from './job-row.js';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  study_uid TEXT NOT NULL,
  model_key TEXT NOT NULL,
  orthanc_id TEXT,
  state TEXT NOT NULL CHECK (state IN ('queued','running','done','failed','skipped')),
  attempts INTEGER NOT NULL DEFAULT 0,
  not_before INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_until INTEGER,
  reason TEXT,
  forced INTEGER NOT NULL DEFAULT 0,
  source TEXT NOT NULL,
  priority INTEGER NOT NULL DEFAULT 0,
  trigger_version TEXT,
  created_at INTEGER NOT NULL,
  queued_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  started_at INTEGER,
  finished_at INTEGER,
  timings TEXT NOT NULL DEFAULT '{}',
  outcome TEXT,
  retries INTEGER NOT NULL DEFAULT 0,
  retry_since INTEGER,
  UNIQUE (study_uid, model_key)
);
CREATE TABLE IF NOT EXISTS kv (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS singletons (name TEXT PRIMARY KEY, owner TEXT NOT NULL, until INTEGER NOT NULL);
`;

/** Columns added after the first release: databases created before get them on open. */
const ADDED_COLUMNS: ReadonlyArray<readonly [string, string]> = [
  // Every job of a database from before priorities counts as a new study.
  ['priority', 'INTEGER NOT NULL DEFAULT 0'],
  ['retries', 'INTEGER NOT NULL DEFAULT 0'],
  ['retry_since', 'INTEGER'],
];
const INDEXES = 'DROP INDEX IF EXISTS jobs_due; CREATE INDEX IF NOT EXISTS jobs_claim ON jobs (state, priority DESC, not_before, id)';

/** SQLite hands back forced as 0/1 and timings and outcome as JSON text. */
type Row = JobRow<number, string, string | null>;

function toJob(row: Row): Job {
  return jobFromRow({
    ...row,
    forced: row.forced === 1,
    timings: JSON.parse(row.timings) as Record<string, number>,
    outcome: row.outcome === null ? null : (JSON.parse(row.outcome) as JobOutcome),
  });
}

/**
 * better-sqlite3's options here: PULSE_SQLITE_NATIVE_BINDING names an addon built for another Node ABI
 * than node_modules' (the test command's Node 22 run, scripts/test-node22.sh); unset, the installed one.
 */
export function sqliteOptions(): Database.Options {
  const nativeBinding = process.env.PULSE_SQLITE_NATIVE_BINDING;
  return nativeBinding ? { nativeBinding } : {};
}

export class SqliteJobStore implements JobStore {
  private readonly db: Database.Database;

  /** Opens (creating when missing) the database file; ':memory:' for a throw-away store. */
  constructor(readonly path: string) {
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    this.db = new Database(path, sqliteOptions());
    this.db.pragma('journal_mode = WAL');
    // NORMAL is durable in WAL mode against process crashes (only an OS crash may lose the last commits).
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 5000');
    this.db.exec(SCHEMA);
    // Databases from before priorities and retry budgets: add the columns.
    const columns = new Set((this.db.prepare('PRAGMA table_info(jobs)').all() as Array<{ name: string }>).map((c) => c.name));
    for (const [name, type] of ADDED_COLUMNS) if (!columns.has(name)) this.db.exec(`ALTER TABLE jobs ADD COLUMN ${name} ${type}`);
    this.db.exec(INDEXES);
  }

  async enqueue(request: EnqueueRequest): Promise<EnqueueResult> {
    const now = Date.now();
    const priority = request.priority ?? JobPriority.newStudy;
    const run = this.db.transaction((): EnqueueResult => {
      const existing = this.db
        .prepare('SELECT * FROM jobs WHERE study_uid = ? AND model_key = ?')
        .get(request.studyInstanceUID, request.modelKey) as Row | undefined;
      if (!existing) {
        const row = this.db
          .prepare(
            `INSERT INTO jobs (study_uid, model_key, orthanc_id, state, source, priority, trigger_version, forced, created_at, queued_at, updated_at, not_before)
             VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, 0) RETURNING *`,
          )
          .get(request.studyInstanceUID, request.modelKey, request.orthancStudyId ?? null, request.source, priority, request.triggerVersion ?? null, request.force ? 1 : 0, now, now, now) as Row;
        return { job: toJob(row), created: true };
      }
      const finished = existing.state === 'done' || existing.state === 'failed' || existing.state === 'skipped';
      const changed =
        (existing.state === 'failed' || existing.state === 'skipped') &&
        request.triggerVersion !== undefined &&
        request.triggerVersion !== existing.trigger_version;
      if (!finished || !(request.force || changed)) {
        // A waiting job asked for again keeps its place, or moves up when the new request outranks it.
        const forced = request.force && existing.forced === 0;
        const raised = priority > existing.priority;
        if (existing.state === 'queued' && (forced || raised)) {
          const row = this.db
            .prepare('UPDATE jobs SET forced = MAX(forced, ?), priority = MAX(priority, ?), updated_at = ? WHERE id = ? RETURNING *')
            .get(request.force ? 1 : 0, priority, now, existing.id) as Row;
          return { job: toJob(row), created: false };
        }
        return { job: toJob(existing), created: false };
      }
      const row = this.db
        .prepare(
          `UPDATE jobs SET state = 'queued', attempts = 0, not_before = 0, lease_owner = NULL, lease_until = NULL,
             retries = 0, retry_since = NULL, reason = NULL, forced = ?, source = ?, priority = ?, trigger_version = COALESCE(?, trigger_version),
             orthanc_id = COALESCE(?, orthanc_id), updated_at = ?, queued_at = ?, started_at = NULL, finished_at = NULL,
             timings = '{}', outcome = NULL
           WHERE id = ? RETURNING *`,
        )
        .get(request.force ? 1 : 0, request.source, priority, request.triggerVersion ?? null, request.orthancStudyId ?? null, now, now, existing.id) as Row;
      return { job: toJob(row), created: true };
    });
    return run.immediate();
  }

  async claim(owner: string, leaseMs: number, now = Date.now()): Promise<Job | undefined> {
    const row = this.db
      .prepare(
        `UPDATE jobs SET state = 'running', lease_owner = ?, lease_until = ?, attempts = attempts + 1,
           started_at = ?, updated_at = ?
         WHERE id = (SELECT id FROM jobs WHERE state = 'queued' AND not_before <= ? ORDER BY priority DESC, not_before, id LIMIT 1)
         RETURNING *`,
      )
      .get(owner, now + leaseMs, now, now, now) as Row | undefined;
    return row ? toJob(row) : undefined;
  }

  async renewLease(id: number, owner: string, leaseMs: number, now = Date.now()): Promise<boolean> {
    return this.db.prepare(`UPDATE jobs SET lease_until = ? WHERE id = ? AND state = 'running' AND lease_owner = ?`).run(now + leaseMs, id, owner).changes === 1;
  }

  private finish(id: number, owner: string, state: JobState, reason: string | null, outcome: JobOutcome | null, timings: Record<string, number>): boolean {
    const now = Date.now();
    return (
      this.db
        .prepare(
          `UPDATE jobs SET state = ?, reason = ?, outcome = ?, timings = ?, finished_at = ?, updated_at = ?,
             lease_owner = NULL, lease_until = NULL
           WHERE id = ? AND state = 'running' AND lease_owner = ?`,
        )
        .run(state, reason, outcome === null ? null : JSON.stringify(outcome), JSON.stringify(timings), now, now, id, owner).changes === 1
    );
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
    return (
      this.db
        .prepare(
          `UPDATE jobs SET state = 'queued', reason = ?, not_before = ?, queued_at = ?, timings = ?, updated_at = ?,
             attempts = MAX(attempts - 1, 0), retries = retries + 1, retry_since = COALESCE(retry_since, ?),
             lease_owner = NULL, lease_until = NULL
           WHERE id = ? AND state = 'running' AND lease_owner = ?`,
        )
        .run(reason, notBefore, notBefore, JSON.stringify(timings), Date.now(), Date.now(), id, owner).changes === 1
    );
  }

  async recoverExpiredLeases(maxAttempts: number, now = Date.now()): Promise<number> {
    const run = this.db.transaction(() => {
      const failed = this.db
        .prepare(
          `UPDATE jobs SET state = 'failed', reason = 'the worker running it stopped (lease expired) ' || attempts || ' times',
             finished_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL
           WHERE state = 'running' AND lease_until < ? AND attempts >= ?`,
        )
        .run(now, now, now, maxAttempts).changes;
      const requeued = this.db
        .prepare(
          `UPDATE jobs SET state = 'queued', reason = 'requeued: the worker running it stopped (lease expired)',
             not_before = 0, queued_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL
           WHERE state = 'running' AND lease_until < ?`,
        )
        .run(now, now, now).changes;
      return failed + requeued;
    });
    return run.immediate();
  }

  async releaseOwner(owner: string): Promise<number> {
    return this.db
      .prepare(
        `UPDATE jobs SET state = 'queued', attempts = MAX(attempts - 1, 0), reason = 'requeued at shutdown',
           not_before = 0, queued_at = ?, updated_at = ?, lease_owner = NULL, lease_until = NULL
         WHERE state = 'running' AND lease_owner = ?`,
      )
      .run(Date.now(), Date.now(), owner).changes;
  }

  async get(id: number): Promise<Job | undefined> {
    const row = this.db.prepare('SELECT * FROM jobs WHERE id = ?').get(id) as Row | undefined;
    return row ? toJob(row) : undefined;
  }

  async findByStudy(studyInstanceUID: string, modelKey?: string): Promise<Job[]> {
    const rows = (
      modelKey === undefined
        ? this.db.prepare('SELECT * FROM jobs WHERE study_uid = ? ORDER BY id').all(studyInstanceUID)
        : this.db.prepare('SELECT * FROM jobs WHERE study_uid = ? AND model_key = ? ORDER BY id').all(studyInstanceUID, modelKey)
    ) as Row[];
    return rows.map(toJob);
  }

  async list(options: ListOptions = {}): Promise<Job[]> {
    const limit = Math.max(1, Math.min(options.limit ?? 100, 10_000));
    const rows = this.db
      .prepare('SELECT * FROM jobs WHERE (? IS NULL OR state = ?) AND (? IS NULL OR source = ?) ORDER BY updated_at DESC, id DESC LIMIT ?')
      .all(options.state ?? null, options.state ?? null, options.source ?? null, options.source ?? null, limit) as Row[];
    return rows.map(toJob);
  }

  async countByState(): Promise<Record<JobState, number>> {
    const counts = Object.fromEntries(JOB_STATES.map((s) => [s, 0])) as Record<JobState, number>;
    for (const row of this.db.prepare('SELECT state, COUNT(*) AS n FROM jobs GROUP BY state').all() as Array<{ state: JobState; n: number }>) {
      counts[row.state] = row.n;
    }
    return counts;
  }

  async getValue(key: string): Promise<string | undefined> {
    const row = this.db.prepare('SELECT value FROM kv WHERE key = ?').get(key) as { value: string } | undefined;
    return row?.value;
  }

  async setValue(key: string, value: string): Promise<void> {
    this.db.prepare('INSERT INTO kv (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value').run(key, value);
  }

  async holdSingleton(name: string, owner: string, ttlMs: number, now = Date.now()): Promise<boolean> {
    const row = this.db
      .prepare(
        `INSERT INTO singletons (name, owner, until) VALUES (?, ?, ?)
         ON CONFLICT (name) DO UPDATE SET owner = excluded.owner, until = excluded.until
           WHERE singletons.owner = excluded.owner OR singletons.until < ?
         RETURNING owner`,
      )
      .get(name, owner, now + ttlMs, now) as { owner: string } | undefined;
    return row?.owner === owner;
  }

  async releaseSingleton(name: string, owner: string): Promise<void> {
    this.db.prepare('DELETE FROM singletons WHERE name = ? AND owner = ?').run(name, owner);
  }

  async close(): Promise<void> {
    if (this.db.open) this.db.close();
  }
}
