import { test } from 'node:test';
import assert from 'node:assert/strict';
import dcmjs from 'dcmjs';
import { useOrthanc } from './support/orthanc.js';
import { generateStudy } from '../src/synth/index.js';
import { DicomWebClient, jsonString, Tag } from '../src/orthanc/dicomweb.js';

const orthanc = useOrthanc();

function parse(bytes: Uint8Array): { meta: Record<string, unknown>; dataset: Record<string, unknown> } {
  const dict = dcmjs.data.DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  return { meta: dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.meta), dataset: dcmjs.data.DicomMetaDictionary.naturalizeDataset(dict.dict) };
}

function pixelBytes(dataset: Record<string, unknown>): Uint8Array {
  const pixel = dataset.PixelData as ArrayBuffer[] | ArrayBuffer;
  return new Uint8Array((Array.isArray(pixel) ? pixel[0] : pixel)!);
}

test('the real Orthanc accepts a generated synthetic study (STOW-RS) and WADO-RS gives back identical pixels', async () => {
  const study = generateStudy({ seed: 11, group: 'DCM', slices: 3, phases: 4 });
  const web = new DicomWebClient({ url: orthanc().dicomWebUrl });
  await web.storeInstances(study.files.map((f) => f.bytes));

  const studies = await web.searchForStudies({ StudyInstanceUID: study.truth.studyInstanceUID });
  assert.equal(studies.length, 1);
  const instances = await web.searchForInstances(study.truth.studyInstanceUID, study.truth.seriesInstanceUID);
  assert.equal(instances.length, 12);
  assert.deepEqual(
    new Set(instances.map((i) => jsonString(i, Tag.SOPInstanceUID))),
    new Set(study.truth.labels.instances.map((e) => e.sopInstanceUID)),
  );
  for (const file of study.files) {
    const written = parse(file.bytes).dataset;
    const back = parse(await web.retrieveInstance(study.truth.studyInstanceUID, study.truth.seriesInstanceUID, written.SOPInstanceUID as string));
    assert.equal(back.meta.TransferSyntaxUID, '1.2.840.10008.1.2.1');
    assert.deepEqual(pixelBytes(back.dataset), pixelBytes(written), `pixels of ${file.name}`);
  }
});
