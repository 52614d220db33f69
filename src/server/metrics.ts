/** Prometheus metrics: job counts by state, stage durations, outcomes. Labels never carry patient data. */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { JOB_STATES, type JobStore } from '../queue/job-store.js';

export interface ServiceMetrics {
  readonly registry: Registry;
  /** Records a finished attempt: its outcome and each stage's duration. */
  observeJob(outcome: 'done' | 'skipped' | 'failed' | 'retry', timings: Readonly<Record<string, number>>): void;
}

export function createMetrics(store: JobStore): ServiceMetrics {
  const registry = new Registry();
  new Gauge({
    name: 'pulse_jobs',
    help: 'Jobs in the queue by state',
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const counts = store.countByState();
      for (const state of JOB_STATES) this.set({ state }, counts[state]);
    },
  });
  const durations = new Histogram({
    name: 'pulse_job_stage_duration_seconds',
    help: 'Duration of each job stage (queue wait, retrieve, pipeline stages, store, mark, total)',
    labelNames: ['stage'],
    buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
    registers: [registry],
  });
  const attempts = new Counter({
    name: 'pulse_job_attempts_total',
    help: 'Finished job attempts by outcome',
    labelNames: ['outcome'],
    registers: [registry],
  });
  return {
    registry,
    observeJob(outcome, timings) {
      attempts.inc({ outcome });
      for (const [stage, ms] of Object.entries(timings)) {
        if (Number.isFinite(ms) && ms >= 0) durations.observe({ stage }, ms / 1000);
      }
    },
  };
}
