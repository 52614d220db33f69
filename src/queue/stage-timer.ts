/** Per-stage durations of one job attempt (ms), in the order the stages ran. */
export class StageTimer {
  private readonly stages: Record<string, number> = {};

  record(stage: string, ms: number): void {
    this.stages[stage] = Math.round(((this.stages[stage] ?? 0) + ms) * 10) / 10;
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

  snapshot(): Record<string, number> {
    return { ...this.stages };
  }
}
