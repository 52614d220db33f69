/**
 * The names of test-time augmentation (tta.ts): its transforms and the configuration's modes. Apart
 * from tta.ts so that the manifest schema and the configuration can name them without importing
 * the procedure (and, through it, the session).
 */

/** The transforms of a model window, each a permutation of its pixels (tta.ts). */
export const TTA_TRANSFORMS = ['identity', 'flip-columns', 'flip-rows', 'transpose'] as const;
export type TtaTransformName = (typeof TTA_TRANSFORMS)[number];

/** Configuration values (`model.tta`): none, or the manifest's transforms (by default all four above). */
export const TTA_MODES = ['none', 'flips'] as const;
export type TtaMode = (typeof TTA_MODES)[number];
