/** How a processed study is marked in Orthanc: user metadata names and values (pure). */
import type { StudyResult } from '../core/result.js';

/** User metadata the service writes; Orthanc must declare them (orthanc-config/orthanc.json "UserMetadata"). */
export const METADATA = {
  status: 'PulseStatus',
  diagnosis: 'PulseDiagnosis',
  model: 'PulseModel',
  priority: 'PulsePriority',
} as const;

/** The indices orthanc-config/orthanc.json and test Orthancs declare (1024..65535). */
export const USER_METADATA_DECLARATION: Readonly<Record<string, number>> = {
  PulseStatus: 1024,
  PulseDiagnosis: 1025,
  PulseModel: 1026,
  PulsePriority: 1027,
};

export type Priority = 'urgent' | 'routine';

export function priorityOf(result: StudyResult, urgentLvefBelowPct: number): Priority {
  const lvef = result.measurements.lvef_pct;
  return Number.isFinite(lvef) && lvef < urgentLvefBelowPct ? 'urgent' : 'routine';
}

/** The metadata values to write for a processed study. */
export function studyMarks(result: StudyResult, modelKey: string, urgentLvefBelowPct: number): Record<string, string> {
  return {
    [METADATA.status]: 'done',
    [METADATA.diagnosis]: result.diagnosis.label,
    [METADATA.model]: modelKey,
    [METADATA.priority]: priorityOf(result, urgentLvefBelowPct),
  };
}

/** Labels (Orthanc >= 1.12): letters, digits, '_' and '-' only. */
export function studyLabels(result: StudyResult, urgentLvefBelowPct: number): string[] {
  const labels = ['pulse-done', `pulse-${result.diagnosis.label.toLowerCase().replace(/[^a-z0-9_-]/g, '_')}`];
  if (priorityOf(result, urgentLvefBelowPct) === 'urgent') labels.push('pulse-urgent');
  return labels;
}
