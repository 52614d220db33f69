/** The short, machine-readable summary of a calibration (`pulse calibrate --json`, the API). Pure. */
import type { SummaryMetrics } from './cases.js';
import type { CalibrationProfile } from './profile.js';

/** The one-line summary --json prints (and the API answers). */
export function calibrationSummary(profile: CalibrationProfile): Record<string, unknown> {
  const side = (m: SummaryMetrics | undefined) =>
    m ? { dice: { LV: round(m.dice['lv']), MYO: round(m.dice['myo']), RV: round(m.dice['rv']) }, lvef_mae: round(m.lvefMae, 2) } : null;
  return {
    id: profile.id,
    promoted: profile.promoted,
    scope: profile.scope,
    k: profile.k,
    before: side(profile.metrics?.before),
    after: side(profile.metrics?.after),
    reason: profile.reason,
  };
}

function round(v: number | null | undefined, digits = 4): number | null {
  return typeof v === 'number' ? Math.round(v * 10 ** digits) / 10 ** digits : null;
}

