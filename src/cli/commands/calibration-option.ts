/** `--calibration <id|path>` with `--data <dir>`, shared by infer and eval. */
import type { CalibrationProfile } from '../../calibration/profile.js';
import { CalibrationStore, readProfileFile } from '../../pipeline/calibration-store.js';
import { BadInputError } from '../../core/errors.js';

export function resolveCalibration(options: { data?: string; calibration?: string }): CalibrationProfile | null {
  if (!options.calibration) return null;
  if (options.data) return new CalibrationStore(options.data).get(options.calibration);
  if (/^cal-\d{8}-\d{6}-[0-9a-f]{6}$/.test(options.calibration)) throw new BadInputError(`--calibration ${options.calibration} is an id: give --data <dir> where it is stored`);
  return readProfileFile(options.calibration);
}
