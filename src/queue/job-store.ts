/**
 * The durable queue's interface: the worker, listener and server talk to this, never to a database.
 * Asynchronous, as BullMQ's queue backend and pg-boss are, so a networked database can implement it:
 * the embedded default is SQLite (sqlite-job-store.ts); a PostgreSQL backend implements the same.
 */

export type JobState = 'queued' | 'running' | 'done' | 'failed' | 'skipped';
export const JOB_STATES: readonly JobState[] = ['queued', 'running', 'done', 'failed', 'skipped'];

/** Where a job came from. */
export type JobSource = 'changes' | 'webhook' | 'api' | 'cli';

/** What the worker records about a finished study (no patient data). */
export interface JobOutcome {
  diagnosis?: string;
  lvefPct?: number;
  urgent?: boolean;
  segSOPInstanceUID?: string;
  srSOPInstanceUID?: string;
  forwarded?: boolean;
  /** The Encapsulated PDF report stored in the study, when reports.pdf is on. */
  pdfSOPInstanceUID?: string;
  /** Whether the FHIR DiagnosticReport reached the configured URL (absent when none is configured). */
  fhirDelivered?: boolean;
  /** Copied values changed to fit their VR ('PatientBirthDate emptied (invalid DA)'): keyword and kind, never the value. */
  sanitised?: readonly string[];
  /** Quality control of the result: pass, review or fail (fail: no diagnosis, no LVEF, never urgent). */
  qc?: 'pass' | 'review' | 'fail';
  /** The site calibration the study ran with (null: the bare model). */
  calibration?: string | null;
}

/**
 * Claim order: higher first. New studies outrank reprocessing and retries asked for by a person, so
 * a flood of such requests never delays a study that just arrived.
 */
export const JobPriority = { newStudy: 0, reprocess: -10 } as const;

export interface Job {
  readonly id: number;
  readonly studyInstanceUID: string;
  /** Model name, version and calibration this job runs for: one job per study and model key. */
  readonly modelKey: string;
  /** Orthanc's id of the study, when known. */
  readonly orthancStudyId: string | null;
  readonly state: JobState;
  /**
   * Times a claim ended without a recorded outcome (the worker died, lost its lease, or could not write
   * its outcome) plus the current claim. Waiting out an upstream outage does not spend attempts.
   */
  readonly attempts: number;
  /** Retries after upstream failures so far (backoff grows with them). */
  readonly retries: number;
  /** When the job first met an unavailable upstream (ms since epoch): the retry budget counts from here. */
  readonly retrySince: number | null;
  /** Not claimed before this time (ms since epoch): backoff. */
  readonly notBefore: number;
  readonly leaseOwner: string | null;
  readonly leaseUntil: number | null;
  /** Why the job was skipped or failed, or why it is waiting for a retry. */
  readonly reason: string | null;
  /** Set when the job was asked for again: routing does not skip it as already processed. */
  readonly forced: boolean;
  readonly source: JobSource;
  /** Claim order, higher first (JobPriority). */
  readonly priority: number;
  /** Orthanc's LastUpdate of the study when the job was queued: a changed study may be looked at again. */
  readonly triggerVersion: string | null;
  readonly createdAt: number;
  /** When the job last entered the queue (or, for a retry, when it became due): queue wait starts here. */
  readonly queuedAt: number;
  readonly updatedAt: number;
  /** When the current or last attempt started. */
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  /** Per-stage durations of the last attempt (ms): queue_wait, route, retrieve, pipeline stages, store, mark. */
  readonly timings: Readonly<Record<string, number>>;
  readonly outcome: JobOutcome | null;
}

export interface EnqueueRequest {
  studyInstanceUID: string;
  modelKey: string;
  orthancStudyId?: string;
  source: JobSource;
  triggerVersion?: string;
  /** Reprocess even when already done (a user asked). */
  force?: boolean;
  /** Claim order, higher first. @defaultValue JobPriority.newStudy */
  priority?: number;
}

export interface EnqueueResult {
  job: Job;
  /** False when an existing job already covers the request (idempotent enqueue). */
  created: boolean;
}

export interface ListOptions {
  state?: JobState;
  source?: JobSource;
  limit?: number;
}

export interface JobStore {
  /**
   * Idempotent: a study already queued or running is left as is; one done is left unless `force`;
   * one skipped or failed is queued again only when the study changed (`triggerVersion`) or `force`.
   */
  enqueue(request: EnqueueRequest): Promise<EnqueueResult>;
  /** Takes the next due job (queued, notBefore <= now; highest priority, then oldest) and leases it to `owner` until now + leaseMs. */
  claim(owner: string, leaseMs: number, now?: number): Promise<Job | undefined>;
  /** Extends the lease of a job this owner runs; false when the job is no longer ours. */
  renewLease(id: number, owner: string, leaseMs: number, now?: number): Promise<boolean>;
  complete(id: number, owner: string, outcome: JobOutcome, timings: Record<string, number>): Promise<boolean>;
  skip(id: number, owner: string, reason: string, timings: Record<string, number>): Promise<boolean>;
  fail(id: number, owner: string, reason: string, timings: Record<string, number>): Promise<boolean>;
  /**
   * Queues the job again after an upstream failure, due at `notBefore`, keeping the reason it waits.
   * The attempt is given back (an outage spends time, not attempts); `retries` grows and
   * `retrySince` is set on the first one.
   */
  retry(id: number, owner: string, reason: string, notBefore: number, timings: Record<string, number>): Promise<boolean>;
  /** Running jobs whose lease ran out go back to the queue (or fail when out of attempts); returns how many. */
  recoverExpiredLeases(maxAttempts: number, now?: number): Promise<number>;
  /** Gives back this owner's running jobs at once (graceful shutdown): they are queued again, the attempt not counted. */
  releaseOwner(owner: string): Promise<number>;
  get(id: number): Promise<Job | undefined>;
  findByStudy(studyInstanceUID: string, modelKey?: string): Promise<Job[]>;
  list(options?: ListOptions): Promise<Job[]>;
  countByState(): Promise<Record<JobState, number>>;
  /** Small persistent key-value store (the changes-feed cursor). */
  getValue(key: string): Promise<string | undefined>;
  setValue(key: string, value: string): Promise<void>;
  /**
   * Holds the named singleton for `owner` until now + ttlMs (taking it when free or expired, renewing
   * it when ours); false while another owner holds it. One changes listener reads the feed at a time.
   */
  holdSingleton(name: string, owner: string, ttlMs: number, now?: number): Promise<boolean>;
  /** Lets go of the singleton when `owner` holds it. */
  releaseSingleton(name: string, owner: string): Promise<void>;
  close(): Promise<void>;
}
