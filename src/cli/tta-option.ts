/** The `--tta <mode>` option of `pulse eval` and `pulse infer`: test-time augmentation (src/model/tta.ts). */
import { TTA_MODES, type TtaMode } from '../model/tta.js';

/** A --tta value, checked: an unknown mode is an error naming the option and the allowed values. */
export function parseTta(value: string, option = '--tta'): TtaMode {
  if (!(TTA_MODES as readonly string[]).includes(value)) throw new Error(`${option} must be one of ${TTA_MODES.join(', ')}, got '${value}'`);
  return value as TtaMode;
}

export const TTA_OPTION_HELP = 'test-time augmentation: none | flips (four transforms per window, about 4x the inference time; src/model/tta.ts)';
