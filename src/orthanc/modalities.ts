/** Forwarding through Orthanc's DICOM modalities (C-STORE from Orthanc to a configured node). */
import type { OrthancRestClient } from './rest-client.js';

/** Symbolic names of the modalities Orthanc knows (`GET /modalities`). */
export function listModalities(client: OrthancRestClient): Promise<string[]> {
  return client.getJson<string[]>('/modalities');
}

/**
 * Sends resources (Orthanc ids of instances, series or studies) to modality `name`, synchronously:
 * the call returns once the remote node has them, so a failure is seen by the job that asked.
 */
export async function storeToModality(client: OrthancRestClient, name: string, resources: readonly string[]): Promise<void> {
  await client.request('POST', `/modalities/${encodeURIComponent(name)}/store`, JSON.stringify({ Resources: resources, Synchronous: true }), 'application/json');
}
