/**
 * `--processor-module` for `pulse serve` child processes in tests: the stand-in processor
 * (PULSE_STANDIN_DELAY_MS per study). With PULSE_STANDIN_CALLS set, every call appends the study's
 * UID as one line to that file, so a test can count how often each study reached the processor
 * across processes and restarts.
 */
import { appendFileSync } from 'node:fs';
import { standInProcessor } from './service-support.js';
import type { StudyProcessor } from '../src/service/study-job.js';

export function createProcessor(): StudyProcessor {
  const inner = standInProcessor({ delayMs: Number(process.env.PULSE_STANDIN_DELAY_MS ?? 0) });
  const callLog = process.env.PULSE_STANDIN_CALLS;
  if (!callLog) return inner;
  return {
    model: inner.model,
    async process(instances) {
      const before = inner.calls.length;
      const processing = inner.process(instances);
      // The stand-in records the study before its delay: log it at once, while it "infers".
      if (inner.calls.length > before) appendFileSync(callLog, `${inner.calls[inner.calls.length - 1]}\n`);
      return processing;
    },
  };
}
