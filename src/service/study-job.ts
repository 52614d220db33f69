/**
 * One study job, start to end: route -> limits -> retrieve (WADO-RS, checked complete) -> pipeline ->
 * store (STOW-RS, only what Orthanc lacks) -> mark -> forward. Every write is idempotent
 * (deterministic SOP Instance UIDs, metadata overwrite), so running it again after a crash at any
 * point leaves no duplicates.
 */
import type { ServiceConfig } from '../config/schema.js';
import { OrthancRequestError, type OrthancRestClient } from '../orthanc/rest-client.js';
import { addStudyLabel, findInstanceId, findStudyIds, gatherStudyFacts, instanceDimensions, setStudyMetadata, studyIdentity, type OrthancFeatures } from '../orthanc/metadata.js';
import { storeToModality } from '../orthanc/modalities.js';
import type { StudyInstance } from '../core/study-instance.js';
import type { StudyOutputs } from '../core/result.js';
import { BadInputError, UnsupportedEncodingError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { modelKeyOf, type ModelIdentity } from '../core/model-identity.js';
import { isJobForModel } from './job-key.js';
import { fhirNotifierOptions, postFhirBundle, type FhirDelivery } from './fhir-notifier.js';
import type { FhirOutbox } from './fhir-outbox.js';
import { priorityOf, studyLabels, studyMarks } from './marking.js';
import { outputIdentity } from './output-identity.js';
import { routeStudy, type RoutableCalibration } from './router.js';
import type { JobHandler, JobResult } from '../queue/worker.js';
import type { SeriesFacts } from '../orthanc/study-facts.js';
import type { ResultArchive } from './result-archive.js';
import { limitBreach, studySize, type SeriesDimensions } from './study-limits.js';

/** What turns a study's instances into outputs: the real pipeline, or any function with the same contract. */
export interface StudyProcessor {
  /** The bare model (calibration null); a study's calibration is chosen per job. */
  readonly model: ModelIdentity;
  /** Whether the model can run (for /readyz); assumed ready when absent. */
  readiness?(): Promise<{ ok: boolean; reason?: string }>;
  /**
   * Runs the pipeline, with the given calibration (by id) or the bare model. `signal` aborts when the
   * worker stops and gives the job back: a processor stops at its next check. `transfer`: the caller
   * will not read the instances' bytes again, so a processor may move them to another thread instead
   * of copying them (they are then detached here).
   */
  process(instances: readonly StudyInstance[], options?: { readonly calibration?: string | null; readonly signal?: AbortSignal; readonly transfer?: boolean }): Promise<StudyOutputs>;
  /** The calibrations active now (read at every job, so an activation reaches the next job). */
  activeCalibrations?(): readonly RoutableCalibration[];
  /** Frees what the processor holds (pipeline threads); called when the service stops. */
  close?(): Promise<void>;
}

export interface StudyJobDependencies {
  readonly client: OrthancRestClient;
  readonly config: ServiceConfig;
  readonly processor: StudyProcessor;
  /** Orthanc's features (labels), read once from /system. */
  readonly features: () => Promise<OrthancFeatures>;
  readonly logger: Logger;
  /** Where the dashboard's copy of each result goes (result, curves, thumbnails), when set. */
  readonly archive?: ResultArchive;
  /** Where an undelivered FHIR report waits to be sent again (with fhir.url). */
  readonly fhirOutbox?: FhirOutbox;
}

export function createStudyJobHandler(deps: StudyJobDependencies): JobHandler {
  const { client, config, processor, logger } = deps;
  const modelKey = modelKeyOf(processor.model);

  return async ({ job, timings, signal }): Promise<JobResult> => {
    const log = { jobId: job.id, studyInstanceUID: job.studyInstanceUID };
    // A job queued for another model (before an upgrade, or by a tool configured differently) is not ours to run.
    if (!isJobForModel(job.modelKey, modelKey)) return { state: 'skipped', reason: `queued for model ${job.modelKey}; this service runs ${modelKey}` };

    // Route on what Orthanc holds now (the study may have changed or gone since it was queued).
    const route = await timings.time('route', async () => {
      const held = await findStudyIds(client, job.studyInstanceUID);
      if (held.length > 1) {
        // Orthanc keeps two patients' studies that share a StudyInstanceUID apart; our job key cannot.
        throw new BadInputError(
          `conflict: ${held.length} Orthanc studies (${held.join(', ')}) share this StudyInstanceUID under different patients; none is processed until one is removed or corrected`,
          job.studyInstanceUID,
        );
      }
      const orthancId = held[0];
      if (orthancId === undefined) return { orthancId, decision: { action: 'skip' as const, reason: 'the study is no longer in Orthanc' } };
      const facts = await gatherStudyFacts(client, orthancId);
      // A job claimed before (attempts > 1) ended without a recorded outcome: our own marks in Orthanc
      // may be from that attempt, so they do not prove a recorded result; run it again (idempotent).
      const forced = job.forced || job.attempts > 1;
      const calibrations = processor.activeCalibrations?.() ?? [];
      return { orthancId, decision: routeStudy(facts, { rules: config.routing, ownOutputs: config.ownOutputs, modelKey, forced, calibrations }) };
    });
    const { decision } = route;
    if (decision.action === 'skip' || route.orthancId === undefined) return { state: 'skipped', reason: decision.reason };
    const orthancId = route.orthancId;
    const calibration = decision.calibration?.id ?? null;
    const studyModelKey = modelKeyOf({ ...processor.model, calibration });
    logger.debug('study qualifies', { ...log, reason: decision.reason, calibration });

    await timings.time('limits', async () => {
      const dimensions = new Map<string, SeriesDimensions | undefined>();
      for (const s of decision.series) {
        const first = s.instances[0];
        dimensions.set(s.seriesInstanceUID, first === undefined ? undefined : await instanceDimensions(client, first.orthancId));
      }
      const breach = limitBreach(studySize(decision.series, dimensions), config.limits);
      if (breach !== undefined) throw new BadInputError(breach, job.studyInstanceUID);
    });

    // Checked against Orthanc's index (closing boundary, count, sizes): a short answer is retried.
    const instances = await timings.time('retrieve', () =>
      retrieveAll(job.studyInstanceUID, decision.series, async (s) =>
        (await client.retrieveSeriesAsStored(job.studyInstanceUID, s.seriesInstanceUID, { signal, expectedFileSizes: s.instances.map((i) => i.fileSize) })).map((bytes, i) => ({
          source: `series ${s.seriesInstanceUID} part ${i + 1}`,
          bytes,
        })),
      ),
    );

    let outputs: StudyOutputs;
    try {
      // The retrieved bytes move to the pipeline thread (not copied): the job does not read them again.
      outputs = await timings.time('pipeline', () => processor.process(instances, { calibration, signal, transfer: true }));
    } catch (error) {
      if (!(error instanceof UnsupportedEncodingError)) throw error;
      // The reader cannot decode this transfer syntax: ask Orthanc to transcode, then try once more.
      logger.info('retrieving again, transcoded by Orthanc', { ...log, transferSyntaxUID: error.transferSyntaxUID });
      const transcoded = await timings.time('retrieve_transcoded', () => retrieveAll(job.studyInstanceUID, decision.series, (s) => retrieveSeriesTranscoded(client, s, signal)));
      outputs = await timings.time('pipeline', () => processor.process(transcoded, { calibration, signal, transfer: true }));
    }
    for (const [stage, ms] of Object.entries(outputs.result.timings_ms)) timings.record(`pipeline.${stage}`, ms);
    // Which stack was read and what was dropped (repeats, other views): decisions carry no patient data.
    const dropped = (outputs.result.series_decisions ?? []).filter((d) => !d.chosen);
    if (dropped.length > 0) logger.info('series chosen', { ...log, chosen: outputs.result.series_decisions?.find((d) => d.chosen)?.reason, dropped });

    // The Encapsulated PDF (series 9004) is stored with the SEG and SR when the processor built it (reports.pdf).
    // No SEG when quality control failed and reports.segOnQcFail is false.
    // The viewer phase series (reports.viewerPhaseSeries) are stored with them, the copies before their SEGs.
    const objects = [...(outputs.seg ? [outputs.seg] : []), outputs.sr, ...(outputs.overlay ? [outputs.overlay] : []), ...(outputs.pdfDicom ? [outputs.pdfDicom] : []), ...(outputs.viewerPhaseSeries ?? [])];
    if (outputs.viewerPhaseSeriesSkipped !== undefined) logger.info('viewer phase series not written', { ...log, reason: outputs.viewerPhaseSeriesSkipped });
    const identities = objects.map(outputIdentity);
    for (const identity of identities) {
      if (identity.studyInstanceUID !== job.studyInstanceUID) {
        throw new Error(`the pipeline wrote an object (SOP class ${identity.sopClassUID}) into study ${identity.studyInstanceUID}, not ${job.studyInstanceUID}`);
      }
    }

    const storedIds = await timings.time('store', async () => {
      // Check first: a previous attempt may have stored some or all of them before it stopped.
      const existing = await Promise.all(identities.map((i) => findInstanceId(client, i.sopInstanceUID)));
      const missing = objects.filter((_, k) => existing[k] === undefined);
      await client.storeInstances(job.studyInstanceUID, missing, { signal });
      if (missing.length < objects.length) logger.info('outputs already in Orthanc were not stored again', { ...log, alreadyStored: objects.length - missing.length });
      const ids = await Promise.all(identities.map((i) => findInstanceId(client, i.sopInstanceUID)));
      if (ids.some((id) => id === undefined)) throw new Error(`study ${job.studyInstanceUID}: an output is missing from Orthanc after STOW-RS`);
      // Orthanc files instances under PatientID + StudyInstanceUID: outputs that lost the PatientID land elsewhere.
      const parents = await Promise.all(ids.map((id) => client.getJson<{ ID: string }>(`/instances/${id}/study`)));
      if (parents.some((p) => p.ID !== orthancId)) throw new Error(`study ${job.studyInstanceUID}: outputs were filed under another Orthanc study (their patient module differs from the source)`);
      return ids as string[];
    });

    const threshold = config.marking.urgentLvefBelowPct;
    await timings.time('mark', async () => {
      const features = await deps.features();
      // Orthanc refuses undeclared user metadata (404): without the entries the study is not marked
      // (readiness says so); the job store still records it as done, so it is not queued again.
      if ((features.missingMetadata ?? []).length === 0) {
        for (const [name, value] of Object.entries(studyMarks(outputs.result, studyModelKey, threshold))) await setStudyMetadata(client, orthancId, name, value);
      }
      if (config.marking.labels && features.labels) {
        for (const label of studyLabels(outputs.result, threshold)) await addStudyLabel(client, orthancId, label);
      }
    });

    // The FHIR notification goes out once the results are in Orthanc and the study is marked.
    let fhir: FhirDelivery | undefined;
    if (config.fhir.url !== undefined && outputs.fhir) {
      const options = fhirNotifierOptions({ ...config.fhir, url: config.fhir.url }, { signal });
      fhir = await timings.time('notify', () => postFhirBundle(outputs.fhir, options));
      if (fhir.delivered) logger.info('FHIR DiagnosticReport delivered', { ...log, attempts: fhir.attempts, status: fhir.status });
      else logger.warn('FHIR DiagnosticReport not delivered', { ...log, attempts: fhir.attempts, reason: fhir.reason, ...(deps.fhirOutbox ? { then: 'kept in the outbox, sent again later' } : {}) });
      try {
        if (fhir.delivered) deps.fhirOutbox?.settle(outputs.fhir);
        else deps.fhirOutbox?.add(job.id, outputs.fhir, fhir);
      } catch (error) {
        // The results are in Orthanc; only this notification is lost (a full disk, say).
        logger.error('could not keep the undelivered FHIR report for a later attempt', { ...log, error: (error as Error).message });
      }
    }

    let forwarded = false;
    if (config.forward.modality !== undefined) {
      const modality = config.forward.modality;
      await timings.time('forward', () => storeToModality(client, modality, storedIds));
      forwarded = true;
    }

    try {
      deps.archive?.save(job.id, outputs);
    } catch (error) {
      // The study's results are in Orthanc; only the dashboard's picture of them is missing.
      logger.warn('could not keep the result for the dashboard', { ...log, error: (error as Error).message });
    }

    return {
      state: 'done',
      outcome: {
        // A result that failed quality control states no finding, here neither.
        ...(outputs.result.qc?.status === 'fail' ? {} : { diagnosis: outputs.result.diagnosis.label, lvefPct: outputs.result.measurements.lvef_pct }),
        qc: outputs.result.qc?.status ?? 'pass',
        urgent: priorityOf(outputs.result, threshold) === 'urgent',
        ...(outputs.seg ? { segSOPInstanceUID: identities[0]!.sopInstanceUID } : {}),
        srSOPInstanceUID: identities[outputs.seg ? 1 : 0]!.sopInstanceUID,
        forwarded,
        ...(fhir ? { fhirDelivered: fhir.delivered } : {}),
        ...(outputs.pdfDicom ? { pdfSOPInstanceUID: identities[identities.length - 1]!.sopInstanceUID } : {}),
        ...(outputs.sanitised?.length ? { sanitised: outputs.sanitised } : {}),
        calibration,
      },
    };
  };
}

/**
 * The instances of the chosen series. Orthanc refusing to hand over a series it listed (a 4xx) is a
 * property of this study, not of the service: the job fails as bad input, without retry.
 */
async function retrieveAll(studyInstanceUID: string, series: readonly SeriesFacts[], retrieve: (s: SeriesFacts) => Promise<StudyInstance[]>): Promise<StudyInstance[]> {
  const all: StudyInstance[] = [];
  for (const s of series) {
    try {
      all.push(...(await retrieve(s)));
    } catch (error) {
      if (error instanceof OrthancRequestError) throw new BadInputError(`Orthanc refused to send series ${s.seriesInstanceUID}: ${error.message}`, studyInstanceUID);
      throw error;
    }
  }
  return all;
}

/** Every instance of one series, transcoded by Orthanc (UIDs kept): the fallback for encodings our reader cannot decode. */
async function retrieveSeriesTranscoded(client: OrthancRestClient, series: SeriesFacts, signal: AbortSignal): Promise<StudyInstance[]> {
  const ids = await client.listInstances(series.orthancId);
  const out: StudyInstance[] = [];
  for (const id of ids) out.push({ source: `instance ${id}`, bytes: await client.instanceTranscoded(id, { signal }) });
  return out;
}
