/** Orthanc's /changes feed: read pages, keep StableStudy (Orthanc 1.10 has no `type=` filter). */
import type { OrthancRestClient } from './rest-client.js';

export interface OrthancChange {
  readonly ChangeType: string;
  readonly Date: string;
  readonly ID: string;
  readonly Path: string;
  readonly ResourceType: string;
  readonly Seq: number;
}

export interface ChangesPage {
  readonly Changes: readonly OrthancChange[];
  readonly Done: boolean;
  readonly Last: number;
}

/** One page of changes after `since`. */
export function readChanges(client: OrthancRestClient, since: number, limit: number): Promise<ChangesPage> {
  return client.getJson<ChangesPage>(`/changes?since=${since}&limit=${limit}`);
}

/** The sequence number of the newest change (for a first start that ignores the history). */
export async function lastChangeSeq(client: OrthancRestClient): Promise<number> {
  return (await client.getJson<ChangesPage>('/changes?last')).Last;
}

/** Orthanc ids of the studies that became stable in a page, in order, without repeats. */
export function stableStudyIds(changes: readonly OrthancChange[]): string[] {
  const ids: string[] = [];
  for (const change of changes) {
    if (change.ChangeType === 'StableStudy' && change.ResourceType === 'Study' && !ids.includes(change.ID)) ids.push(change.ID);
  }
  return ids;
}
