/** One DICOM instance as the pipeline receives it, from a folder or from Orthanc. */
export interface StudyInstance {
  /** File name or Orthanc id: appears only in error messages, never patient data. */
  readonly source: string;
  /** The Part 10 file. */
  readonly bytes: Uint8Array;
}
