/**
 * A synthetic cine study rewritten the way older real archives hold it: UIDs with leading-zero
 * components (`2.16.124.113543.6006.99.0…`, as older GE archives write them) for study, series,
 * instances and frame of reference, PatientBirthDate `00000000`, a StudyTime that is no TM, and a
 * PatientName longer than PN allows. Everything else (pixels, geometry, timing) is the generator's.
 */
import { createHash } from 'node:crypto';
import dcmjs from 'dcmjs';
import { readPart10 } from '../src/dicom/modules/part10.js';
import { generateStudy, type SynthOptions } from '../src/synth/index.js';

/** A UID with a leading-zero component derived from `uid`: invalid by PS3.5 9.1, common in real archives. */
export function leadingZeroUid(uid: string): string {
  const digits = BigInt(`0x${createHash('sha256').update(uid).digest('hex').slice(0, 24)}`).toString();
  return `2.16.124.113543.6006.99.0${digits}`.slice(0, 64);
}

export const ODD_UID_PREFIX = '2.16.124.113543.6006.99.0';

export interface OddStudy {
  readonly files: ReadonlyArray<{ name: string; bytes: Uint8Array }>;
  readonly studyInstanceUID: string;
  readonly seriesInstanceUID: string;
}

export function makeOddValuesStudy(options: SynthOptions): OddStudy {
  const study = generateStudy(options);
  const files = study.files.map((file) => {
    const ds = readPart10(file.bytes);
    for (const keyword of ['StudyInstanceUID', 'SeriesInstanceUID', 'SOPInstanceUID', 'FrameOfReferenceUID']) ds[keyword] = leadingZeroUid(String(ds[keyword]));
    ds.PatientBirthDate = '00000000';
    ds.StudyTime = '256199';
    ds.PatientName = [{ Alphabetic: `${'VERYLONGFAMILYNAME'.repeat(5)}^GIVEN` }];
    return { name: file.name, bytes: writeAsIs(ds) };
  });
  return { files, studyInstanceUID: leadingZeroUid(study.truth.studyInstanceUID), seriesInstanceUID: leadingZeroUid(study.truth.seriesInstanceUID) };
}

/** Part 10 bytes of a naturalized data set, over-long values kept (dcmjs refuses them unless told). */
function writeAsIs(ds: Record<string, any>): Uint8Array {
  const { DicomMetaDictionary, DicomDict } = dcmjs.data;
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: ds.SOPClassUID,
    MediaStorageSOPInstanceUID: ds.SOPInstanceUID,
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '1.2.3.4',
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(ds);
  return new Uint8Array(dict.write({ fragmentMultiframe: false, allowInvalidVRLength: true } as never));
}
