/**
 * The worker: claims due jobs with a lease (renewed by a heartbeat while the job runs), runs them with
 * bounded concurrency, and maps errors to outcomes: UpstreamUnavailableError -> retry with backoff,
 * budgeted in time (an outage spends no attempts), BadInputError -> failed with its reason, anything
 * else -> failed loudly (logged with its stack), never retried. A job store that cannot be written
 * (disk full, read-only) never ends the process: the job keeps its lease until it runs out, then runs
 * again, and readiness says why.
 */
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import { backoffDelayMs, type BackoffOptions } from './backoff.js';
import type { Job, JobOutcome, JobStore } from './job-store.js';
import { BadInputError, isTransient } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { StageTimer } from '../core/stage-timer.js';
import { WakeableSleep } from '../util/wakeable-sleep.js';
import { StoreHealth, describeStoreError, isStoreUnreachable } from './store-health.js';

/** Why an attempt failed or will be retried, as metrics count it. */
export type FailureReason = 'upstream_unavailable' | 'bad_input' | 'internal' | 'lease_lost';

/** What the worker reports about each finished attempt (the service's Prometheus metrics implement it). */
export interface WorkerMetrics {
  observeJob(outcome: 'done' | 'skipped' | 'failed' | 'retry', timings: Readonly<Record<string, number>>, reason?: FailureReason): void;
}

export type JobResult = { readonly state: 'done'; readonly outcome: JobOutcome } | { readonly state: 'skipped'; readonly reason: string };

export interface JobContext {
  readonly job: Job;
  readonly timings: StageTimer;
  /** Aborted when the worker stops and gives the job back. */
  readonly signal: AbortSignal;
}

export type JobHandler = (context: JobContext) => Promise<JobResult>;

export interface WorkerOptions {
  readonly concurrency: number;
  readonly leaseMs: number;
  /** Claims that end without an outcome (crashes, lost leases) before the job is failed. */
  readonly maxAttempts: number;
  /** How long a job may keep meeting an unavailable upstream before it is failed (ms). @defaultValue 24 h */
  readonly retryBudgetMs?: number;
  readonly pollIntervalMs: number;
  readonly backoff: BackoffOptions;
  /** Lease owner name; unique per process. @defaultValue hostname:pid:random */
  readonly owner?: string;
  readonly random?: () => number;
}

export class Worker {
  readonly owner: string;
  private readonly inFlight = new Map<number, { done: Promise<void>; abort: AbortController }>();
  private loop: Promise<void> | undefined;
  private stopping = false;
  private readonly pause = new WakeableSleep();
  /** Whether the job store could be written the last time this worker tried. */
  readonly storeHealth = new StoreHealth();

  constructor(
    private readonly store: JobStore,
    private readonly handler: JobHandler,
    private readonly options: WorkerOptions,
    private readonly logger: Logger,
    private readonly metrics?: WorkerMetrics,
  ) {
    this.owner = options.owner ?? newWorkerId();
  }

  /** Number of jobs this worker runs now. */
  get busy(): number {
    return this.inFlight.size;
  }

  start(): void {
    if (this.loop) return;
    this.stopping = false;
    this.loop = this.run();
  }

  /** Wakes the loop now (a job was queued). */
  notify(): void {
    this.pause.wakeUp();
  }

  /**
   * Stops claiming, waits up to `graceMs` for running jobs to finish, then gives the rest back to
   * the queue (their attempt not counted) so a restart runs them again.
   */
  async stop(graceMs = 30_000): Promise<void> {
    this.stopping = true;
    this.notify();
    await this.loop;
    this.loop = undefined;
    const pending = [...this.inFlight.values()];
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((done) => (timer = setTimeout(done, graceMs)));
      await Promise.race([Promise.all(pending.map((p) => p.done)), timeout]);
      clearTimeout(timer);
      for (const p of this.inFlight.values()) p.abort.abort();
    }
    try {
      const released = await this.storeHealth.guard(() => this.store.releaseOwner(this.owner));
      if (released > 0) this.logger.warn('jobs requeued at shutdown', { released });
    } catch (error) {
      // Their leases run out; another worker (or the next start) runs them again.
      this.logger.error('could not give running jobs back at shutdown', { error: describeStoreError(error) });
    }
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      try {
        const recovered = await this.storeHealth.guard(() => this.store.recoverExpiredLeases(this.options.maxAttempts));
        if (recovered > 0) this.logger.warn('jobs whose worker stopped were requeued or failed', { recovered });
        while (!this.stopping && this.inFlight.size < this.options.concurrency) {
          const job = await this.storeHealth.guard(() => this.store.claim(this.owner, this.options.leaseMs));
          if (!job) break;
          this.launch(job);
        }
      } catch (error) {
        // The job store itself failed (disk full, locked): keep the service up and try again.
        this.logger.error('job store error', { error: describeStoreError(error) });
      }
      await this.pause.sleep(this.options.pollIntervalMs);
    }
  }

  private launch(job: Job): void {
    const abort = new AbortController();
    const done = this.execute(job, abort.signal)
      // execute() handles every error itself; this is the last guard that keeps the process up.
      .catch((error: unknown) => {
        this.logger.error('job runner error', { jobId: job.id, error: describeError(error) });
      })
      .finally(() => {
      this.inFlight.delete(job.id);
      this.notify();
    });
    this.inFlight.set(job.id, { done, abort });
  }

  private async execute(job: Job, signal: AbortSignal): Promise<void> {
    const log = { jobId: job.id, studyInstanceUID: job.studyInstanceUID, attempt: job.attempts };
    const timings = new StageTimer();
    timings.record('queue_wait', Math.max(0, (job.startedAt ?? Date.now()) - job.queuedAt));
    // Heartbeat: the lease stays short (a killed worker's job runs again soon) while a long job keeps it.
    const heartbeat = setInterval(() => {
      this.storeHealth.guard(() => this.store.renewLease(job.id, this.owner, this.options.leaseMs)).then(
        (renewed) => {
          if (!renewed) this.logger.warn('lease lost', log);
        },
        (error: unknown) => this.logger.error('could not renew the lease', { ...log, error: describeStoreError(error) }),
      );
    }, Math.max(100, Math.floor(this.options.leaseMs / 3)));
    // A job given back at shutdown may never settle: stop renewing its lease then.
    signal.addEventListener('abort', () => clearInterval(heartbeat), { once: true });
    const started = performance.now();
    this.logger.info('job started', log);
    try {
      const result = await this.handler({ job, timings, signal });
      timings.record('total', performance.now() - started);
      const stages = timings.snapshot();
      if (result.state === 'done') {
        await this.settle(job, 'complete', () => this.store.complete(job.id, this.owner, result.outcome, stages), log);
        this.logger.info('job done', {
          ...log,
          timings_ms: stages,
          diagnosis: result.outcome.diagnosis,
          urgent: result.outcome.urgent,
          qc: result.outcome.qc,
          ...(result.outcome.sanitised?.length ? { sanitised: result.outcome.sanitised } : {}),
        });
      } else {
        await this.settle(job, 'skip', () => this.store.skip(job.id, this.owner, result.reason, stages), log);
        this.logger.info('job skipped', { ...log, reason: result.reason });
      }
      this.metrics?.observeJob(result.state, stages);
    } catch (error) {
      timings.record('total', performance.now() - started);
      const stages = timings.snapshot();
      const message = describeError(error);
      if (isTransient(error)) {
        const now = Date.now();
        const since = job.retrySince ?? now;
        const budgetMs = this.options.retryBudgetMs ?? DEFAULT_RETRY_BUDGET_MS;
        if (now - since >= budgetMs) {
          await this.settle(job, 'fail', () => this.store.fail(job.id, this.owner, `gave up after ${formatDuration(now - since)} of upstream failures (budget ${formatDuration(budgetMs)}): ${message}`, stages), log);
          this.logger.error('job failed: upstream still unavailable', { ...log, error: message });
          this.metrics?.observeJob('failed', stages, 'upstream_unavailable');
        } else {
          const delay = Math.min(backoffDelayMs(job.retries + 1, this.options.backoff, this.options.random), Math.max(0, since + budgetMs - now));
          await this.settle(job, 'retry', () => this.store.retry(job.id, this.owner, `retry ${job.retries + 1} in ${delay} ms: ${message}`, now + delay, stages), log);
          this.logger.warn('job will be retried', { ...log, delayMs: delay, error: message });
          this.metrics?.observeJob('retry', stages, 'upstream_unavailable');
        }
      } else if (error instanceof BadInputError) {
        await this.settle(job, 'fail', () => this.store.fail(job.id, this.owner, message, stages), log);
        this.logger.warn('job failed: bad input', { ...log, error: message });
        this.metrics?.observeJob('failed', stages, 'bad_input');
      } else {
        await this.settle(job, 'fail', () => this.store.fail(job.id, this.owner, `internal error: ${message}`, stages), log);
        this.logger.error('job failed: internal error', { ...log, error: message, stack: error instanceof Error ? error.stack : undefined });
        this.metrics?.observeJob('failed', stages, 'internal');
      }
    } finally {
      clearInterval(heartbeat);
    }
  }

  /**
   * Records a job's outcome. When the store cannot be written the job stays running under our lease,
   * which is no longer renewed: once it runs out the job runs again (its attempt counted, so routing
   * does not take our own marks for a recorded result) and the outcome is recorded then.
   */
  private async settle(job: Job, what: string, write: () => Promise<boolean>, log: Record<string, unknown>): Promise<void> {
    let written: boolean;
    // A database server that is restarting or briefly unreachable (PostgreSQL) comes back within
    // seconds: keep trying while our lease (still renewed by the heartbeat) would last, so a finished
    // study is recorded rather than run again.
    const deadline = Date.now() + this.options.leaseMs;
    for (;;) {
      try {
        written = await this.storeHealth.guard(write);
        break;
      } catch (error) {
        if (isStoreUnreachable(error) && Date.now() < deadline) {
          this.logger.warn('job store unreachable; trying again to record the outcome', { ...log, outcome: what, error: describeStoreError(error) });
          await new Promise((done) => setTimeout(done, 500));
          continue;
        }
        this.logger.error('job outcome not recorded: the job store cannot be written; the job runs again when its lease runs out', {
          ...log,
          outcome: what,
          error: describeStoreError(error),
        });
        return;
      }
    }
    // Another worker took the job after our lease ran out: its outcome stands, ours is dropped.
    if (!written) this.logger.warn('job outcome not recorded: the lease was lost', { ...log, jobId: job.id });
  }
}

/** A lease owner id unique per process: `host:pid:random` (containers all run as pid 1, hence the host and the random part). */
export function newWorkerId(): string {
  return `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
}

/** Default time budget of upstream retries: a day, so a weekend-long PACS outage needs a manual reprocess at worst. */
export const DEFAULT_RETRY_BUDGET_MS = 24 * 3600_000;

function formatDuration(ms: number): string {
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7200_000) return `${Math.round(ms / 60_000)} min`;
  return `${(ms / 3600_000).toFixed(1)} h`;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}`;
  return String(error);
}
