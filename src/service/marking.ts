/** How a processed study is marked in Orthanc: user metadata names and values (pure). */
import type { StudyResult } from '../core/result.js';

/**
 * The user metadata the service writes, each with its name and its Orthanc index (1024..65535): the
 * one table. Orthanc must declare them under the same indices (orthanc-config/orthanc.json
 * "UserMetadata"; test Orthancs and `pulse demo` declare USER_METADATA_DECLARATION).
 */
const USER_METADATA = {
  status: { name: 'PulseStatus', index: 1024 },
  diagnosis: { name: 'PulseDiagnosis', index: 1025 },
  model: { name: 'PulseModel', index: 1026 },
  priority: { name: 'PulsePriority', index: 1027 },
} as const;

type MetadataRole = keyof typeof USER_METADATA;

/** Metadata name per role (`METADATA.status` is 'PulseStatus'). */
export const METADATA = Object.fromEntries(Object.entries(USER_METADATA).map(([role, m]) => [role, m.name])) as {
  readonly [R in MetadataRole]: (typeof USER_METADATA)[R]['name'];
};

/** Name -> index, as Orthanc's "UserMetadata" configuration declares them. */
export const USER_METADATA_DECLARATION: Readonly<Record<string, number>> = Object.fromEntries(Object.values(USER_METADATA).map((m) => [m.name, m.index]));

export type Priority = 'urgent' | 'routine';

/** Urgent only from numbers that passed quality control (or await review): never from a failed result. */
export function priorityOf(result: StudyResult, urgentLvefBelowPct: number): Priority {
  if (result.qc?.status === 'fail') return 'routine';
  const lvef = result.measurements.lvef_pct;
  return Number.isFinite(lvef) && lvef < urgentLvefBelowPct ? 'urgent' : 'routine';
}

/** The metadata values to write for a processed study. */
/** PulseStatus: 'done', 'qc-review' (findings with a caution) or 'qc-failed' (no findings). */
export function statusOf(result: StudyResult): string {
  const qc = result.qc?.status ?? 'pass';
  return qc === 'fail' ? 'qc-failed' : qc === 'review' ? 'qc-review' : 'done';
}

export function studyMarks(result: StudyResult, modelKey: string, urgentLvefBelowPct: number): Record<string, string> {
  const failed = result.qc?.status === 'fail';
  return {
    [METADATA.status]: statusOf(result),
    // A failed result states no diagnosis anywhere.
    [METADATA.diagnosis]: failed ? 'none' : result.diagnosis.label,
    [METADATA.model]: modelKey,
    [METADATA.priority]: priorityOf(result, urgentLvefBelowPct),
  };
}

/** Labels (Orthanc >= 1.12): letters, digits, '_' and '-' only. */
export function studyLabels(result: StudyResult, urgentLvefBelowPct: number): string[] {
  if (result.qc?.status === 'fail') return ['pulse-done', 'pulse-qc-failed'];
  const labels = ['pulse-done', `pulse-${result.diagnosis.label.toLowerCase().replace(/[^a-z0-9_-]/g, '_')}`];
  if (result.qc?.status === 'review') labels.push('pulse-qc-review');
  if (priorityOf(result, urgentLvefBelowPct) === 'urgent') labels.push('pulse-urgent');
  return labels;
}
