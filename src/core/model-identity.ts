/**
 * The one identity of the algorithm that produced a result: the model's manifest name and version
 * plus the site calibration. result.json's `model`, the DICOM writers' algorithm identification
 * (ContributingEquipment, Device UID, SR observer) and the study's PulseModel mark all use this type.
 */
export interface ModelIdentity {
  /** Model name from the manifest ('pulse-lite'). */
  readonly name: string;
  /** Model version from the manifest (semantic version). */
  readonly version: string;
  /** Site calibration id, or null for the bare model. */
  readonly calibration: string | null;
}

/** One key per model and calibration version: `pulse-lite@1.2.0` or `pulse-lite@1.2.0+site-2026-11`. */
export function modelKeyOf(model: ModelIdentity): string {
  return `${model.name}@${model.version}${model.calibration ? `+${model.calibration}` : ''}`;
}

/** The model as one human-readable string: 'pulse-lite 1.2.0' or 'pulse-lite 1.2.0 (calibration site-a-3)'. */
export function modelLabel(model: ModelIdentity): string {
  return model.calibration ? `${model.name} ${model.version} (calibration ${model.calibration})` : `${model.name} ${model.version}`;
}
