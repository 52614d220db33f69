/**
 * Discovery: a study Orthanc calls stable becomes a queued job, idempotently. Both paths (changes
 * feed and webhook) come through here, so a study announced twice is queued once.
 */
import type { OrthancRestClient } from '../orthanc/rest-client.js';
import { studyIdentity } from '../orthanc/metadata.js';
import type { EnqueueResult, JobSource, JobStore } from '../queue/job-store.js';
import type { Logger } from '../core/logger.js';

/** What an announcement may already say about the study (the webhook's body). */
export interface KnownStudy {
  readonly studyInstanceUID: string;
  readonly lastUpdate?: string;
}

export interface Discovery {
  /**
   * Queues the study Orthanc knows as `orthancStudyId`; undefined when Orthanc no longer holds it.
   * With `known`, Orthanc is not asked (the webhook answers while Orthanc's Lua callback waits).
   */
  studyStable(orthancStudyId: string, source: JobSource, known?: KnownStudy): Promise<EnqueueResult | undefined>;
}

/** `jobKey` gives the queue key (model and calibrations in force, job-key.ts) when a study is announced. */
export function createDiscovery(client: OrthancRestClient, store: JobStore, jobKey: () => string, logger: Logger, onQueued: () => void): Discovery {
  return {
    async studyStable(orthancStudyId, source, known) {
      const modelKey = jobKey();
      const identity = known ?? (await studyIdentity(client, orthancStudyId));
      if (identity === undefined || identity.studyInstanceUID === '') {
        logger.debug('stable study no longer in Orthanc', { orthancStudyId, source });
        return undefined;
      }
      let result = await store.enqueue({ studyInstanceUID: identity.studyInstanceUID, modelKey, orthancStudyId, source, triggerVersion: identity.lastUpdate });
      const other = result.job.orthancStudyId;
      if (!result.created && other !== null && other !== orthancStudyId && (result.job.state === 'done' || result.job.state === 'skipped')) {
        // Another Orthanc study (another patient) holds the same StudyInstanceUID: run the job again so
        // the worker records the conflict with its reason, instead of ignoring the second study.
        logger.warn('two Orthanc studies share one StudyInstanceUID; the job is queued again to record the conflict', {
          jobId: result.job.id,
          studyInstanceUID: identity.studyInstanceUID,
          orthancStudyIds: [other, orthancStudyId],
        });
        result = await store.enqueue({ studyInstanceUID: identity.studyInstanceUID, modelKey, orthancStudyId, source, triggerVersion: identity.lastUpdate, force: true });
      }
      if (result.created) {
        logger.info('study queued', { jobId: result.job.id, studyInstanceUID: identity.studyInstanceUID, source });
        onQueued();
      } else {
        logger.debug('study already known', { jobId: result.job.id, studyInstanceUID: identity.studyInstanceUID, state: result.job.state, source });
      }
      return result;
    },
  };
}
