/**
 * Study facts, user metadata and labels over Orthanc's REST API. User metadata works on 1.10;
 * labels only from 1.12, detected from /system.
 */
import { OrthancRequestError, type OrthancRestClient, type OrthancSystem } from './rest-client.js';
import type { InstanceFacts, SeriesFacts, StudyFacts } from './study-facts.js';

interface StudyResource {
  ID: string;
  LastUpdate?: string;
  MainDicomTags: Record<string, string>;
  Series: string[];
}

interface SeriesResource {
  ID: string;
  MainDicomTags: Record<string, string>;
  Instances: string[];
}

interface InstanceResource {
  ID: string;
  FileSize?: number;
  ParentSeries: string;
  MainDicomTags: Record<string, string>;
}

export interface OrthancFeatures {
  readonly version: string;
  readonly labels: boolean;
  /** User metadata names the service writes that this Orthanc does not declare (marking is off then). */
  readonly missingMetadata?: readonly string[];
}

/** What this Orthanc offers, from `GET /system` (labels from 1.12.0). */
export function featuresOf(system: OrthancSystem): OrthancFeatures {
  const [major = 0, minor = 0] = String(system.Version).split('.').map((p) => Number.parseInt(p, 10));
  // "mainline" and other non-numeric builds are newer than any release.
  const labels = Number.isNaN(major) || major > 1 || (major === 1 && minor >= 12);
  return { version: String(system.Version), labels };
}

/** Orthanc's id of a study, or undefined when Orthanc does not hold it. */
export async function findStudyId(client: OrthancRestClient, studyInstanceUID: string): Promise<string | undefined> {
  return (await findStudyIds(client, studyInstanceUID))[0];
}

/**
 * Every Orthanc study holding this StudyInstanceUID. Orthanc files studies under PatientID +
 * StudyInstanceUID, so two patients' studies that share a UID are two entries here.
 */
export async function findStudyIds(client: OrthancRestClient, studyInstanceUID: string): Promise<string[]> {
  const found = (await client.request('POST', '/tools/lookup', studyInstanceUID, 'text/plain')) as Array<{ Type: string; ID: string }>;
  return found.filter((f) => f.Type === 'Study').map((f) => f.ID);
}

/** An id no resource has: Orthanc resolves a metadata name before it looks the resource up. */
const PROBE_STUDY_ID = 'pulse-user-metadata-probe';

/**
 * The names among `names` this Orthanc does not declare as user metadata. Orthanc 1.10 answers a
 * request on a missing resource with "Unknown resource" (status 17) when the metadata name is
 * declared, and "Accessing an inexistent item" (status 7) when it is not, so no study is touched.
 */
export async function undeclaredUserMetadata(client: OrthancRestClient, names: readonly string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const name of names) {
    try {
      await client.request('GET', `/studies/${PROBE_STUDY_ID}/metadata/${encodeURIComponent(name)}`);
    } catch (error) {
      if (!(error instanceof OrthancRequestError)) throw error;
      if (/inexistent item/i.test(error.message)) missing.push(name);
    }
  }
  return missing;
}

/** Dimensions of one instance (Rows, Columns) from its stored file; undefined when absent or not numbers. */
export async function instanceDimensions(client: OrthancRestClient, instanceId: string): Promise<{ rows: number; columns: number } | undefined> {
  try {
    const id = encodeURIComponent(instanceId);
    const [rows, columns] = await Promise.all([client.send('GET', `/instances/${id}/content/0028-0010`), client.send('GET', `/instances/${id}/content/0028-0011`)]);
    const r = unsignedShort(new Uint8Array(await rows.arrayBuffer()));
    const c = unsignedShort(new Uint8Array(await columns.arrayBuffer()));
    return r !== undefined && c !== undefined ? { rows: r, columns: c } : undefined;
  } catch (error) {
    if (error instanceof OrthancRequestError && error.status === 404) return undefined;
    throw error;
  }
}

/**
 * A US value as Orthanc 1.10 answers `/instances/{id}/content/{tag}`: the raw value, two bytes little
 * endian (not text, unlike string VRs); text digits are accepted too.
 */
export function unsignedShort(bytes: Uint8Array): number | undefined {
  if (bytes.length === 2) return bytes[0]! | (bytes[1]! << 8);
  const text = new TextDecoder().decode(bytes).replace(/\0/gu, '').trim();
  return /^\d+$/u.test(text) ? Number(text) : undefined;
}

/** Orthanc's id of an instance by SOP Instance UID, or undefined when absent. */
export async function findInstanceId(client: OrthancRestClient, sopInstanceUID: string): Promise<string | undefined> {
  const found = (await client.request('POST', '/tools/lookup', sopInstanceUID, 'text/plain')) as Array<{ Type: string; ID: string }>;
  return found.find((f) => f.Type === 'Instance')?.ID;
}

/** StudyInstanceUID and LastUpdate of a study by Orthanc id; undefined when it is gone (deleted). */
export async function studyIdentity(client: OrthancRestClient, orthancId: string): Promise<{ studyInstanceUID: string; lastUpdate?: string } | undefined> {
  try {
    const study = await client.getJson<StudyResource>(`/studies/${encodeURIComponent(orthancId)}`);
    return { studyInstanceUID: study.MainDicomTags.StudyInstanceUID ?? '', lastUpdate: study.LastUpdate };
  } catch (error) {
    if (error instanceof OrthancRequestError && error.status === 404) return undefined;
    throw error;
  }
}

/** The study's user metadata, expanded (name -> value). */
export async function studyMetadata(client: OrthancRestClient, orthancId: string): Promise<Record<string, string>> {
  return client.getJson<Record<string, string>>(`/studies/${encodeURIComponent(orthancId)}/metadata?expand`);
}

export async function setStudyMetadata(client: OrthancRestClient, orthancId: string, name: string, value: string): Promise<void> {
  await client.request('PUT', `/studies/${encodeURIComponent(orthancId)}/metadata/${encodeURIComponent(name)}`, value, 'text/plain');
}

export async function addStudyLabel(client: OrthancRestClient, orthancId: string, label: string): Promise<void> {
  await client.request('PUT', `/studies/${encodeURIComponent(orthancId)}/labels/${encodeURIComponent(label)}`, '', 'text/plain');
}

/** One tag's value of an instance (`GET /instances/{id}/content/{group,element}`), or undefined when absent. */
async function instanceTag(client: OrthancRestClient, orthancId: string, tag: string): Promise<string | undefined> {
  try {
    const res = await client.send('GET', `/instances/${encodeURIComponent(orthancId)}/content/${tag}`);
    return (await res.text()).replace(/[\s\0]+$/u, '').trim() || undefined;
  } catch (error) {
    // 404: the instance lacks the tag. Orthanc unreachable still fails the job (retried).
    if (error instanceof OrthancRequestError) return undefined;
    throw error;
  }
}

/** Everything routing needs: series tags, one instance's metadata per series, instance positions. */
export async function gatherStudyFacts(client: OrthancRestClient, orthancId: string): Promise<StudyFacts> {
  const id = encodeURIComponent(orthancId);
  const [study, seriesList, instances, metadata] = await Promise.all([
    client.getJson<StudyResource>(`/studies/${id}`),
    client.getJson<SeriesResource[]>(`/studies/${id}/series`),
    client.getJson<InstanceResource[]>(`/studies/${id}/instances`),
    studyMetadata(client, orthancId),
  ]);
  const series: SeriesFacts[] = [];
  for (const s of seriesList) {
    const tags = s.MainDicomTags;
    const first = s.Instances[0];
    const instanceMeta = first === undefined ? {} : await client.getJson<Record<string, string>>(`/instances/${encodeURIComponent(first)}/metadata?expand`);
    // ManufacturerModelName is not in Orthanc's series index: read it from the first instance (calibration scopes).
    const modelName = first === undefined ? undefined : await instanceTag(client, first, '0008,1090');
    const own: InstanceFacts[] = instances
      .filter((i) => i.ParentSeries === s.ID)
      .map((i) => ({
        orthancId: i.ID,
        imagePositionPatient: i.MainDicomTags.ImagePositionPatient,
        imageOrientationPatient: i.MainDicomTags.ImageOrientationPatient,
        numberOfFrames: i.MainDicomTags.NumberOfFrames === undefined ? undefined : Number(i.MainDicomTags.NumberOfFrames),
        fileSize: i.FileSize,
      }));
    series.push({
      orthancId: s.ID,
      seriesInstanceUID: tags.SeriesInstanceUID ?? '',
      modality: tags.Modality ?? '',
      seriesDescription: tags.SeriesDescription ?? '',
      bodyPartExamined: tags.BodyPartExamined ?? '',
      manufacturer: tags.Manufacturer ?? '',
      ...(modelName ? { manufacturerModelName: modelName } : {}),
      ...(tags.StationName ? { stationName: tags.StationName } : {}),
      sopClassUID: instanceMeta.SopClassUid,
      remoteAET: instanceMeta.RemoteAET,
      instances: own,
    });
  }
  return {
    orthancId,
    studyInstanceUID: study.MainDicomTags.StudyInstanceUID ?? '',
    studyDescription: study.MainDicomTags.StudyDescription ?? '',
    ...(study.MainDicomTags.InstitutionName ? { institutionName: study.MainDicomTags.InstitutionName } : {}),
    lastUpdate: study.LastUpdate,
    series,
    metadata,
  };
}
