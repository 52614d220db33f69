/** Moved to src/core/result.ts; this re-export lives for one step so that open branches rebase cleanly. */
export type { CoreMeasurements, StudyOutputs, StudyResult } from '../core/result.js';
