import type { Job, JobOutcome, JobSource, JobState } from './job-store.js';

/**
 * A job as both stores keep it: one column per field, snake_case. The backends differ only in how
 * three columns come back (SQLite: forced as 0/1, timings and outcome as JSON text; PostgreSQL: a
 * boolean and JSONB), so each decodes those and shares the rest of the mapping.
 */
export interface JobRow<Forced = boolean, Timings = Record<string, number>, Outcome = JobOutcome | null> {
  id: number;
  study_uid: string;
  model_key: string;
  orthanc_id: string | null;
  state: JobState;
  attempts: number;
  not_before: number;
  lease_owner: string | null;
  lease_until: number | null;
  reason: string | null;
  forced: Forced;
  source: JobSource;
  priority: number;
  trigger_version: string | null;
  created_at: number;
  queued_at: number;
  updated_at: number;
  started_at: number | null;
  finished_at: number | null;
  timings: Timings;
  outcome: Outcome;
  retries: number;
  retry_since: number | null;
}

export function jobFromRow(row: JobRow): Job {
  return {
    id: row.id,
    studyInstanceUID: row.study_uid,
    modelKey: row.model_key,
    orthancStudyId: row.orthanc_id,
    state: row.state,
    attempts: row.attempts,
    notBefore: row.not_before,
    leaseOwner: row.lease_owner,
    leaseUntil: row.lease_until,
    reason: row.reason,
    forced: row.forced,
    source: row.source,
    priority: row.priority,
    triggerVersion: row.trigger_version,
    createdAt: row.created_at,
    queuedAt: row.queued_at,
    updatedAt: row.updated_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    timings: row.timings,
    outcome: row.outcome,
    retries: row.retries,
    retrySince: row.retry_since,
  };
}
