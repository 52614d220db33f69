/**
 * The segment vocabulary analysis needs, resolved from the manifest: label values are never
 * hard-coded, only the manifest's keys 'lv' (LV cavity), 'myo' (LV myocardium) and 'rv' (RV cavity).
 */
import type { Manifest } from '../model/manifest.js';

export interface SegmentLabels {
  readonly lv: number;
  readonly myo: number;
  readonly rv: number;
  /** Every segment key -> label value (volume curves are reported for all of them). */
  readonly byKey: Readonly<Record<string, number>>;
}

export const REQUIRED_SEGMENT_KEYS = ['lv', 'myo', 'rv'] as const;

/** Label values of the manifest's 'lv', 'myo' and 'rv' segments; throws naming the missing keys. */
export function segmentLabels(manifest: Pick<Manifest, 'name' | 'segments'>): SegmentLabels {
  const byKey: Record<string, number> = {};
  for (const segment of manifest.segments) {
    if (segment.key in byKey) throw new Error(`model manifest '${manifest.name}': segment key '${segment.key}' appears twice`);
    byKey[segment.key] = segment.labelValue;
  }
  const missing = REQUIRED_SEGMENT_KEYS.filter((key) => !(key in byKey));
  if (missing.length > 0) {
    throw new Error(
      `model manifest '${manifest.name}' lacks segment key(s) ${missing.map((k) => `'${k}'`).join(', ')}: ` +
        `cardiac analysis needs segments keyed 'lv' (LV cavity), 'myo' (LV myocardium) and 'rv' (RV cavity)`,
    );
  }
  return { lv: byKey.lv!, myo: byKey.myo!, rv: byKey.rv!, byKey };
}
