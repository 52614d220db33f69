/**
 * Prometheus metrics: job counts by state, queue depth, stage latency histograms, outcomes,
 * failures by reason class, the active model and calibration. Labels never carry patient data
 * (nor UIDs: a label value is one of a few fixed words).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JOB_STATES, type JobStore } from '../queue/job-store.js';

/** Why an attempt failed, as a bounded label: what the worker's error classes decide. */
import type { FailureReason } from '../queue/worker.js';
export type { FailureReason };

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Records a finished attempt: its outcome, each stage's duration, and for a failure or retry its reason. */
  observeJob(outcome: 'done' | 'skipped' | 'failed' | 'retry', timings: Readonly<Record<string, number>>, reason?: FailureReason): void;
}

/** What runs: the model's name and version and the calibration applied (none: ''). */
export interface ActiveModel {
  readonly name: string;
  readonly version: string;
  readonly calibration: string | null;
}

/**
 * The queue-wide gauges (pulse_jobs, pulse_queue_depth) describe the shared job store and carry no
 * worker label (every replica reports the same numbers: take max, not sum, across replicas); the
 * per-attempt series carry `worker`, the lease owner id of the replica that ran the attempt.
 */
export function createMetrics(store: JobStore, model?: ActiveModel, workerId = 'local'): ServiceMetrics {
  const registry = new Registry();
  const worker = workerId;
  new Gauge({
    name: 'pulse_worker_info',
    help: 'This replica: its worker id (the lease owner named in jobs), value 1',
    labelNames: ['worker'],
    registers: [registry],
  }).set({ worker }, 1);
  new Gauge({
    name: 'pulse_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['state'],
    registers: [registry],
    async collect() {
      const counts = await store.countByState();
      for (const state of JOB_STATES) this.set({ state }, counts[state]);
    },
  });
  new Gauge({
    name: 'pulse_queue_depth',
    help: 'Jobs waiting or running (queued + running)',
    registers: [registry],
    async collect() {
      const counts = await store.countByState();
      this.set(counts.queued + counts.running);
    },
  });
  const durations = new Histogram({
    name: 'pulse_job_stage_duration_seconds',
    help: 'Duration of each job stage (queue wait, retrieve, pipeline stages, store, mark, total)',
    labelNames: ['stage', 'worker'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'pulse_job_attempts_total',
    help: 'Finished job attempts by outcome',
    labelNames: ['outcome', 'worker'],
    registers: [registry],
  });
  const failures = new Counter({
    name: 'pulse_job_failures_total',
    help: 'Failed or retried attempts by reason class (upstream_unavailable, bad_input, internal, lease_lost)',
    labelNames: ['reason', 'final', 'worker'],
    registers: [registry],
  });
  if (model !== undefined) {
    new Gauge({
      name: 'pulse_model_info',
      help: 'The active model and site calibration (value 1; calibration "" when none)',
      labelNames: ['name', 'version', 'calibration'],
      registers: [registry],
    }).set({ name: model.name, version: model.version, calibration: model.calibration ?? '' }, 1);
  }
  return {
    registry,
    observeJob(outcome, timings, reason) {
      attempts.inc({ outcome, worker });
      if ((outcome === 'failed' || outcome === 'retry') && reason !== undefined) failures.inc({ reason, final: outcome === 'failed' ? 'true' : 'false', worker });
      for (const [stage, ms] of Object.entries(timings)) {
        if (Number.isFinite(ms) && ms >= 0) durations.observe({ stage, worker }, ms / 1000);
      }
    },
  };
}
