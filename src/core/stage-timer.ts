/**
 * The one stage timer: per-stage durations (ms) in the order the stages first ran. The pipeline times
 * its steps with it (result.json's `timings_ms`), the worker times a job's stages with it (the job's
 * timings, which also carry the pipeline's as `pipeline.<stage>`).
 */
export class StageTimer {
  private readonly stages = new Map<string, number>();

  /** Adds `ms` to `stage` (a stage may run more than once, e.g. a retried retrieval). */
  record(stage: string, ms: number): void {
    this.stages.set(stage, (this.stages.get(stage) ?? 0) + ms);
  }

  /** Runs `fn` and records its duration under `stage`, also when it throws. */
  async time<T>(stage: string, fn: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await fn();
    } finally {
      this.record(stage, performance.now() - start);
    }
  }

  /** The same for synchronous work. */
  timeSync<T>(stage: string, fn: () => T): T {
    const start = performance.now();
    try {
      return fn();
    } finally {
      this.record(stage, performance.now() - start);
    }
  }

  /** Unrounded sum of one stage (0 when it never ran). */
  get(stage: string): number {
    return this.stages.get(stage) ?? 0;
  }

  /** Every stage rounded to 0.1 ms; with `total`, also their sum under 'total'. */
  snapshot(options: { total?: boolean } = {}): Record<string, number> {
    const out: Record<string, number> = {};
    let total = 0;
    for (const [stage, ms] of this.stages) {
      out[stage] = round(ms);
      total += ms;
    }
    if (options.total) out.total = round(total);
    return out;
  }
}

const round = (ms: number): number => Math.round(ms * 10) / 10;
