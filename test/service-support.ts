/**
 * Helpers of the service tests: small cine MR studies written with dcmjs, a stand-in study processor
 * (a real function: reads the DICOM it is given and writes a real SEG-class and SR-class object with
 * deterministic UIDs into the same study), polling, and a few Orthanc look-ups.
 */
import dcmjs from 'dcmjs';
import { deterministicUid } from '../src/dicom/uid.js';
import type { StudyInstance } from '../src/core/study-instance.js';
import type { StudyOutputs, StudyResult } from '../src/core/result.js';
import type { StudyProcessor } from '../src/service/study-job.js';
import { BadInputError } from '../src/core/errors.js';
import type { OrthancRestClient } from '../src/orthanc/rest-client.js';
import type { Job } from '../src/queue/job-store.js';
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { projectRoot, pulseBin } from './support/paths.js';

const { DicomDict, DicomMessage, DicomMetaDictionary } = dcmjs.data;
const EXPLICIT_VR_LE = '1.2.840.10008.1.2.1';
const MR_IMAGE_STORAGE = '1.2.840.10008.5.1.4.1.1.4';
const SEG_STORAGE = '1.2.840.10008.5.1.4.1.1.66.4';
const COMPREHENSIVE_3D_SR = '1.2.840.10008.5.1.4.1.1.88.34';

function part10(dataset: Record<string, unknown>): Uint8Array {
  const meta = {
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: dataset.SOPClassUID,
    MediaStorageSOPInstanceUID: dataset.SOPInstanceUID,
    TransferSyntaxUID: EXPLICIT_VR_LE,
    ImplementationClassUID: '2.25.1234567890',
    ImplementationVersionName: 'PULSE-TEST',
  };
  const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta));
  dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset);
  return new Uint8Array(dict.write());
}

export interface TestStudy {
  readonly studyInstanceUID: string;
  readonly files: Uint8Array[];
}

/** A small cine short-axis MR study: `slices` positions x `phases` phases, 16x16 pixels. */
export function makeCineStudy(seed: number, options: { slices?: number; phases?: number; modality?: string; description?: string; shortPixelData?: boolean; patientId?: string } = {}): TestStudy {
  const slices = options.slices ?? 6;
  const phases = options.phases ?? 8;
  const studyInstanceUID = deterministicUid<'StudyInstanceUID'>('service-test-study', seed);
  const seriesInstanceUID = deterministicUid<'SeriesInstanceUID'>('service-test-series', seed);
  const files: Uint8Array[] = [];
  for (let s = 0; s < slices; s++) {
    for (let p = 0; p < phases; p++) {
      const pixels = new Uint16Array(16 * 16);
      for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 7 + s * 13 + p * 5 + seed) % 400;
      files.push(
        part10({
          SOPClassUID: MR_IMAGE_STORAGE,
          SOPInstanceUID: deterministicUid('service-test-instance', seed, s, p),
          StudyInstanceUID: studyInstanceUID,
          SeriesInstanceUID: seriesInstanceUID,
          FrameOfReferenceUID: deterministicUid('service-test-for', seed),
          Modality: options.modality ?? 'MR',
          Manufacturer: 'TestScanner',
          PatientName: `Test^Patient${seed}`,
          PatientID: options.patientId ?? `TEST${seed}`,
          StudyDescription: options.description ?? 'Cardiac cine',
          SeriesDescription: 'cine SAX',
          StudyDate: '20260101',
          SeriesNumber: '1',
          InstanceNumber: String(s * phases + p + 1),
          ImagePositionPatient: [0, 0, s * 8],
          ImageOrientationPatient: [1, 0, 0, 0, 1, 0],
          PixelSpacing: [1.5, 1.5],
          SliceThickness: 8,
          TriggerTime: p * 40,
          Rows: 16,
          Columns: 16,
          SamplesPerPixel: 1,
          PhotometricInterpretation: 'MONOCHROME2',
          BitsAllocated: 16,
          BitsStored: 16,
          HighBit: 15,
          PixelRepresentation: 0,
          // A corrupt study: the first instance's pixel data stops early (the file itself stays well formed).
          PixelData: options.shortPixelData && s === 0 && p === 0 ? pixels.buffer.slice(0, 100) : pixels.buffer,
          _vrMap: { PixelData: 'OW' },
        }),
      );
    }
  }
  return { studyInstanceUID, files };
}

/** A single CT image (a study the router must skip). */
export function makeCtImage(seed: number): TestStudy {
  const study = makeCineStudy(seed, { slices: 1, phases: 1, modality: 'CT', description: 'Head' });
  return study;
}

interface Header {
  PatientName?: unknown;
  PatientID?: string;
  StudyInstanceUID: string;
  SeriesInstanceUID: string;
  Modality: string;
  Rows: number;
  Columns: number;
  BitsAllocated: number;
  PixelData?: ArrayBuffer[];
}

function header(instance: StudyInstance): Header {
  const bytes = instance.bytes;
  const message = DicomMessage.readFile(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
  const dataset = DicomMetaDictionary.naturalizeDataset(message.dict) as Header;
  const expected = dataset.Rows * dataset.Columns * (dataset.BitsAllocated / 8);
  const actual = dataset.PixelData?.[0]?.byteLength ?? 0;
  if (actual < expected) throw new Error(`PixelData holds ${actual} bytes, ${expected} expected (${instance.source})`);
  return dataset;
}

export interface StandInOptions {
  /** Time each study takes (ms), to have a job running when the test wants one. */
  readonly delayMs?: number;
  readonly version?: string;
}

/**
 * A stand-in for processStudy with the same contract: instances in, result + SEG + SR out, the
 * objects' SOP Instance UIDs depending only on study and model. Instances that are not parseable
 * DICOM of one study are bad input, as in the real pipeline.
 */
export function standInProcessor(options: StandInOptions = {}): StudyProcessor & { calls: string[] } {
  const model = { name: 'stand-in', version: options.version ?? '1.0.0', calibration: null };
  const calls: string[] = [];
  return {
    model,
    calls,
    async process(instances) {
      let headers: Header[];
      try {
        headers = instances.map(header);
      } catch (error) {
        throw new BadInputError(`cannot read the instances: ${(error as Error).message}`);
      }
      const study = headers[0]?.StudyInstanceUID;
      if (study === undefined || headers.some((h) => h.StudyInstanceUID !== study)) throw new BadInputError('instances of no or several studies');
      calls.push(study);
      if (options.delayMs) await new Promise((done) => setTimeout(done, options.delayMs));
      const lvef = 20 + (Number(BigInt(study.split('.').pop()!) % 50n));
      const result: StudyResult = {
        studyInstanceUID: study,
        seriesInstanceUID: headers[0]!.SeriesInstanceUID,
        grid: { slices: 1, phases: instances.length },
        phases: { ed: 0, es: 1 },
        measurements: { lvedv_ml: 100, lvesv_ml: 100 - lvef, lvsv_ml: lvef, lvef_pct: lvef, lv_mass_g: 100, rvedv_ml: 100, rvesv_ml: 50, rvef_pct: 50 },
        diagnosis: { label: lvef < 40 ? 'DCM' : 'NOR', probabilities: { NOR: 0.5, DCM: 0.5 } },
        narrative: 'stand-in',
        qc: { status: 'pass', reasons: [], ood: null },
        model,
        timings_ms: { inference: 1 },
      };
      const common = {
        StudyInstanceUID: study,
        // Orthanc files a study under PatientID + StudyInstanceUID: derived objects copy both.
        PatientName: headers[0]!.PatientName,
        PatientID: headers[0]!.PatientID,
        Manufacturer: 'PULSE for Orthanc',
        ContentDate: '20260101',
        ContentTime: '120000',
        InstanceNumber: '1',
      };
      const seg = part10({
        ...common,
        SOPClassUID: SEG_STORAGE,
        SOPInstanceUID: deterministicUid('stand-in-seg', study, model.version),
        SeriesInstanceUID: deterministicUid('stand-in-seg-series', study, model.version),
        Modality: 'SEG',
        SeriesDescription: 'PULSE segmentation (automated)',
        SeriesNumber: '901',
      });
      const sr = part10({
        ...common,
        SOPClassUID: COMPREHENSIVE_3D_SR,
        SOPInstanceUID: deterministicUid('stand-in-sr', study, model.version),
        SeriesInstanceUID: deterministicUid('stand-in-sr-series', study, model.version),
        Modality: 'SR',
        SeriesDescription: 'PULSE report (automated)',
        SeriesNumber: '902',
      });
      return { result, seg, sr } satisfies StudyOutputs;
    },
  };
}

export async function uploadStudy(client: OrthancRestClient, study: TestStudy): Promise<string> {
  let studyId = '';
  for (const bytes of study.files) studyId = (await client.uploadInstance(bytes)).ParentStudy;
  return studyId;
}

/** Polls `check` every `intervalMs` until it returns a value other than undefined/false, or throws on timeout. */
export async function waitFor<T>(what: string, check: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 30_000, intervalMs = 200): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((done) => setTimeout(done, intervalMs));
  }
}

/** Modalities of the series of a study in Orthanc, sorted (e.g. ['MR', 'SEG', 'SR']). */
export async function seriesModalities(client: OrthancRestClient, studyId: string): Promise<string[]> {
  const series = await client.getJson<Array<{ MainDicomTags: { Modality?: string } }>>(`/studies/${studyId}/series`);
  return series.map((s) => s.MainDicomTags.Modality ?? '').sort();
}

/**
 * `pulse serve` as a child process (the compiled CLI, as in production): the real pipeline, or the
 * processor module named; `env` sets the queue's (and a stand-in's) knobs for the test.
 */
export function servePulse(orthancUrl: string, dataDir: string, port: number, env: Record<string, string>, options: { processorModule?: string } = {}): ChildProcess {
  const args = [pulseBin, 'serve', '--orthanc', orthancUrl, '--data', dataDir, '--port', String(port)];
  if (options.processorModule !== undefined) args.push('--processor-module', options.processorModule);
  const child = spawn(process.execPath, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout!.resume();
  child.stderr!.resume();
  return child;
}

/** `pulse serve` with the stand-in processor (test/service-stand-in.ts). */
export function serveWithStandIn(orthancUrl: string, dataDir: string, port: number, env: Record<string, string>): ChildProcess {
  return servePulse(orthancUrl, dataDir, port, env, { processorModule: join(projectRoot, 'dist', 'test', 'service-stand-in.js') });
}

/** SIGKILL, resolved once the process has exited. */
export async function killHard(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGKILL');
  await exited;
}

/** The service's job list over its API; empty while the service does not answer (killed, starting). */
export async function listJobs(port: number, limit = 1000): Promise<Job[]> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/api/jobs?limit=${limit}`);
    if (!res.ok) return [];
    return ((await res.json()) as { jobs: Job[] }).jobs;
  } catch {
    return [];
  }
}
