/** `--processor-module` for `pulse serve` child processes in tests: the stand-in processor (PULSE_STANDIN_DELAY_MS). */
import { standInProcessor } from './service-support.js';

export function createProcessor() {
  return standInProcessor({ delayMs: Number(process.env.PULSE_STANDIN_DELAY_MS ?? 0) });
}
