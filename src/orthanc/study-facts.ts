/** What routing needs to know about a study, as read from Orthanc's index (no pixel data): the contract between the Orthanc client (metadata.ts) and the service's router and job. */

export interface InstanceFacts {
  readonly orthancId: string;
  /** ImagePositionPatient as Orthanc stores it ("x\\y\\z"), when present. */
  readonly imagePositionPatient?: string;
  readonly imageOrientationPatient?: string;
  readonly numberOfFrames?: number;
  /** Size of the stored file (Orthanc's FileSize): what a retrieval `as stored` must deliver. */
  readonly fileSize?: number;
}

export interface SeriesFacts {
  readonly orthancId: string;
  readonly seriesInstanceUID: string;
  readonly modality: string;
  readonly seriesDescription: string;
  readonly bodyPartExamined: string;
  readonly manufacturer: string;
  /** ManufacturerModelName and StationName of the series (calibration scopes), when known. */
  readonly manufacturerModelName?: string;
  readonly stationName?: string;
  /** SOP Class UID of the series' first instance (Orthanc metadata SopClassUid). */
  readonly sopClassUID?: string;
  /** Calling AE title that sent the series' first instance (Orthanc metadata RemoteAET). */
  readonly remoteAET?: string;
  readonly instances: readonly InstanceFacts[];
}

export interface StudyFacts {
  readonly orthancId: string;
  readonly studyInstanceUID: string;
  readonly studyDescription: string;
  /** InstitutionName (a study-level tag in Orthanc's index), when known. */
  readonly institutionName?: string;
  /** Orthanc's LastUpdate: changes whenever the study receives instances. */
  readonly lastUpdate?: string;
  readonly series: readonly SeriesFacts[];
  /** The study's user metadata (PulseStatus, PulseModel, ...). */
  readonly metadata: Readonly<Record<string, string>>;
}
