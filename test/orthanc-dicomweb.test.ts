import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import dcmjs from 'dcmjs';
import { useOrthanc, startTestOrthanc } from './support/orthanc.js';
import { sharedData } from './support/paths.js';
import { importAcdcPatient } from '../src/nifti/index.js';
import { DicomWebClient, jsonString, Tag } from '../src/orthanc/dicomweb.js';
import { OrthancRequestError, OrthancRestClient } from '../src/orthanc/rest-client.js';
import { UpstreamUnavailableError } from '../src/core/errors.js';

const orthanc = useOrthanc();

function parse(bytes: Uint8Array): { meta: Record<string, unknown>; dataset: Record<string, unknown> } {
  const dict = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return {
    meta: dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.meta),
    dataset: dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict),
  };
}

function pixelBytes(dataset: Record<string, unknown>): Uint8Array {
  const pixel = dataset.PixelData as ArrayBuffer[] | ArrayBuffer;
  const first = Array.isArray(pixel) ? pixel[0] : pixel;
  assert.ok(first, 'PixelData present');
  return new Uint8Array(first);
}

test('the real Orthanc accepts an imported ACDC patient and DICOMweb reads it back unchanged', async () => {
  const acdc = await importAcdcPatient(join(sharedData, 'acdc', 'training', 'patient001'));
  const rest = new OrthancRestClient({ url: orthanc().url });
  for (const file of acdc.files) assert.equal((await rest.uploadInstance(file.bytes)).Status, 'Success');
  const web = new DicomWebClient({ url: orthanc().dicomWebUrl });

  const studies = await web.searchForStudies({ PatientID: 'ACDC-patient001' });
  assert.equal(studies.length, 1);
  assert.equal(jsonString(studies[0]!, Tag.StudyInstanceUID), acdc.info.studyInstanceUID);
  const series = await web.searchForSeries(acdc.info.studyInstanceUID);
  assert.equal(series.length, 1);
  assert.equal(jsonString(series[0]!, Tag.SeriesInstanceUID), acdc.info.seriesInstanceUID);
  const instances = await web.searchForInstances(acdc.info.studyInstanceUID, acdc.info.seriesInstanceUID);
  assert.equal(instances.length, acdc.info.slices * 2);
  assert.equal(acdc.files.length, 20);

  // WADO-RS: every pixel as written, for a few instances across slices and phases.
  for (const index of [0, 7, 19]) {
    const written = parse(acdc.files[index]!.bytes).dataset;
    const sop = written.SOPInstanceUID as string;
    const back = parse(await web.retrieveInstance(acdc.info.studyInstanceUID, acdc.info.seriesInstanceUID, sop));
    assert.equal(back.meta.TransferSyntaxUID, '1.2.840.10008.1.2.1');
    assert.equal(back.dataset.SOPInstanceUID, sop);
    assert.deepEqual(back.dataset.ImagePositionPatient, written.ImagePositionPatient);
    assert.equal(back.dataset.TriggerTime, written.TriggerTime);
    assert.deepEqual(pixelBytes(back.dataset), pixelBytes(written));
  }
  // The label map of each instance matches its grid.
  const firstInstance = acdc.info.instances[0]!;
  assert.equal(acdc.labels.get(firstInstance.sopInstanceUID)?.length, acdc.info.rows * acdc.info.columns);

  // WADO-RS study retrieval gives every instance.
  const all = await web.retrieveStudy(acdc.info.studyInstanceUID);
  assert.equal(all.length, 20);

  // Re-import gives the same UIDs: Orthanc reports the files as already stored.
  const again = await importAcdcPatient(join(sharedData, 'acdc', 'training', 'patient001'));
  assert.equal(again.info.studyInstanceUID, acdc.info.studyInstanceUID);
  assert.equal((await rest.uploadInstance(again.files[3]!.bytes)).Status, 'AlreadyStored');
});

test('STOW-RS stores instances through dicomweb-client', async () => {
  const acdc = await importAcdcPatient(join(sharedData, 'acdc', 'training', 'patient002'), { labels: false });
  const web = new DicomWebClient({ url: orthanc().dicomWebUrl });
  await web.storeInstances(acdc.files.slice(0, 4).map((f) => f.bytes));
  const instances = await web.searchForInstances(acdc.info.studyInstanceUID);
  assert.equal(instances.length, 4);
});

test('WADO-RS decompresses a JPEG-LS lossless instance (DCMTK) to Explicit VR Little Endian with the original pixels, repeatedly', async () => {
  const rest = new OrthancRestClient({ url: orthanc().url });
  const compressed = new Uint8Array(await readFile(join(sharedData, 'dicom-corpus', 'pydicom', 'MR_small_jpeg_ls_lossless.dcm')));
  const reference = parse(new Uint8Array(await readFile(join(sharedData, 'dicom-corpus', 'pydicom', 'MR_small.dcm')))).dataset;
  const original = parse(compressed);
  assert.equal(original.meta.TransferSyntaxUID, '1.2.840.10008.1.2.4.80');
  await rest.uploadInstance(compressed);
  const web = new DicomWebClient({ url: orthanc().dicomWebUrl });
  const uids = original.dataset as { StudyInstanceUID: string; SeriesInstanceUID: string; SOPInstanceUID: string };
  // Repeated on purpose: with GDCM decoding every syntax, Orthanc 1.10.1 died after a few of these.
  for (let n = 0; n < 8; n++) {
    const back = parse(await web.retrieveInstance(uids.StudyInstanceUID, uids.SeriesInstanceUID, uids.SOPInstanceUID));
    assert.equal(back.meta.TransferSyntaxUID, '1.2.840.10008.1.2.1');
    assert.deepEqual(pixelBytes(back.dataset), pixelBytes(reference));
  }
});

test('a JPEG 2000 instance can be retrieved as stored (transfer-syntax=*), byte for byte', async () => {
  const rest = new OrthancRestClient({ url: orthanc().url });
  const compressed = new Uint8Array(await readFile(join(sharedData, 'dicom-corpus', 'pydicom-data', 'emri_small_jpeg_2k_lossless.dcm')));
  const original = parse(compressed);
  await rest.uploadInstance(compressed);
  const uids = original.dataset as { StudyInstanceUID: string; SeriesInstanceUID: string; SOPInstanceUID: string };
  const back = parse(await rest.retrieveInstanceAsStored(uids.StudyInstanceUID, uids.SeriesInstanceUID, uids.SOPInstanceUID));
  assert.equal(back.meta.TransferSyntaxUID, '1.2.840.10008.1.2.4.90');
  assert.deepEqual(pixelBytes(back.dataset), pixelBytes(original.dataset));
});

test('a DICOMweb or REST call to a stopped Orthanc is an UpstreamUnavailableError', async () => {
  const down = await startTestOrthanc();
  await down.stop();
  await assert.rejects(new DicomWebClient({ url: down.dicomWebUrl, timeoutMs: 3000 }).searchForStudies(), UpstreamUnavailableError);
  await assert.rejects(new OrthancRestClient({ url: down.url, timeoutMs: 3000 }).listStudies(), UpstreamUnavailableError);
});

test('every 4xx from Orthanc, over REST or DICOMweb, is an OrthancRequestError with its status; a cancelled request is an abort, not an outage', async () => {
  const rest = new OrthancRestClient({ url: orthanc().url, timeoutMs: 5000 });
  const refused = async (call: Promise<unknown>, status: number) => {
    const error = await call.then(() => undefined, (e: unknown) => e);
    assert.ok(error instanceof OrthancRequestError, `expected OrthancRequestError, got ${String(error)}`);
    assert.equal(error.status, status);
  };
  await refused(rest.getJson('/studies/not-a-study-id'), 404);
  await refused(rest.retrieveSeriesAsStored('1.2.3.4', '1.2.3.4.5'), 404);
  await refused(new OrthancRestClient({ url: orthanc().url, dicomWebRoot: '/no-dicom-web-here' }).retrieveSeriesAsStored('1.2.3', '1.2.3.4'), 404);
  await refused(new DicomWebClient({ url: `${orthanc().url}/no-dicom-web-here` }).searchForStudies(), 404);

  const stop = new AbortController();
  stop.abort();
  const aborted = await rest.retrieveSeriesAsStored('1.2.3.4', '1.2.3.4.5', { signal: stop.signal }).then(() => undefined, (e: unknown) => e);
  assert.ok(aborted instanceof Error && aborted.name === 'AbortError', `expected AbortError, got ${String(aborted)}`);
  assert.ok(!(aborted instanceof UpstreamUnavailableError));
});
