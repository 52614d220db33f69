/**
 * Discovery: a study Orthanc calls stable becomes a queued job, idempotently. Both paths (changes
 * feed and webhook) come through here, so a study announced twice is queued once.
 */
import type { OrthancRestClient } from '../orthanc/rest-client.js';
import { studyIdentity } from '../orthanc/metadata.js';
import type { EnqueueResult, JobSource, JobStore } from '../queue/job-store.js';
import type { Logger } from './logger.js';

export interface Discovery {
  /** Queues the study Orthanc knows as `orthancStudyId`; undefined when Orthanc no longer holds it. */
  studyStable(orthancStudyId: string, source: JobSource): Promise<EnqueueResult | undefined>;
}

export function createDiscovery(client: OrthancRestClient, store: JobStore, modelKey: string, logger: Logger, onQueued: () => void): Discovery {
  return {
    async studyStable(orthancStudyId, source) {
      const identity = await studyIdentity(client, orthancStudyId);
      if (identity === undefined || identity.studyInstanceUID === '') {
        logger.debug('stable study no longer in Orthanc', { orthancStudyId, source });
        return undefined;
      }
      const result = store.enqueue({ studyInstanceUID: identity.studyInstanceUID, modelKey, orthancStudyId, source, triggerVersion: identity.lastUpdate });
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
