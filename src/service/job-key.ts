/**
 * The queue's key of a study's job: the model and the calibrations in force when the study was
 * queued (`pulse-lite@1.2.0`, or `pulse-lite@1.2.0+site-a-3,site-b-1`). The job store keeps one job
 * per study and key, so after a calibration is activated (or the pinned one changes) a study that
 * arrives again is a new job, not the done job of the old calibration; while the calibrations stay
 * the same, announcing a study again finds its existing job. Which calibration a study runs with is
 * still chosen per study at routing (its scanner), among those in force.
 */
import { modelKeyOf, type ModelIdentity } from '../core/model-identity.js';

/** What the key needs of a StudyProcessor (study-job.ts). */
export interface CalibratedModel {
  readonly model: ModelIdentity;
  activeCalibrations?(): readonly { readonly id: string }[];
}

export function jobModelKey(processor: CalibratedModel): string {
  const ids = [...new Set((processor.activeCalibrations?.() ?? []).map((c) => c.id))].sort();
  return modelKeyOf({ ...processor.model, calibration: ids.length > 0 ? ids.join(',') : null });
}

/** Whether a job's key is for this bare model (any calibration set): a job for another model is not ours to run. */
export function isJobForModel(jobKey: string, bareModelKey: string): boolean {
  return jobKey === bareModelKey || jobKey.startsWith(`${bareModelKey}+`);
}
