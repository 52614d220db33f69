/**
 * Site calibration inside the service: annotated studies taken from Orthanc (a list of
 * StudyInstanceUIDs, or every study carrying a configured metadata value), retrieved over WADO-RS
 * (images + the reference SEG), fitted and decided by the same code as `pulse calibrate`, stored and
 * activated under the data folder. One calibration runs at a time, in the background, with progress;
 * a failed or unhelpful one changes nothing active and says why. Also the node-cron schedule.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { ServiceConfig } from '../config/schema.js';
import type { OrthancRestClient } from '../orthanc/rest-client.js';
import { findStudyId, gatherStudyFacts, studyMetadata } from '../orthanc/metadata.js';
import { annotatedStudy, calibrate, hashedUid, type AnnotatedStudy } from '../pipeline/calibrate.js';
import { CalibrationStore } from '../pipeline/calibration-store.js';
import { ModelRegistry } from '../model/registry.js';
import { loadModel } from '../pipeline/steps.js';
import type { CalibrationProfile } from '../calibration/profile.js';
import { BadInputError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import type { StudyInstance } from '../core/study-instance.js';

export interface CalibrationRequest {
  /** StudyInstanceUIDs of annotated studies in Orthanc. */
  readonly studyInstanceUIDs?: readonly string[];
  /** Or: every study whose user metadata `name` equals `value`. */
  readonly metadata?: { readonly name: string; readonly value: string };
  /** Only studies not used by an earlier calibration (the nightly schedule's "annotations added since"). */
  readonly onlyNew?: boolean;
}

export interface CalibrationRun {
  readonly id: number;
  state: 'running' | 'done' | 'failed';
  done: number;
  total: number;
  what: string;
  startedAt: string;
  finishedAt?: string;
  /** The stored calibration's id, whether it was promoted and why. */
  profile?: CalibrationProfile;
  error?: string;
}

export interface CalibrationRunnerDependencies {
  readonly client: OrthancRestClient;
  readonly config: ServiceConfig;
  readonly store: CalibrationStore;
  readonly logger: Logger;
}

const UID = /^[0-9.]{1,64}$/;

export class CalibrationRunner {
  private readonly runs = new Map<number, CalibrationRun>();
  private next = 1;
  private current: Promise<void> | undefined;
  private task: ScheduledTask | undefined;

  constructor(private readonly deps: CalibrationRunnerDependencies) {}

  get(id: number): CalibrationRun | undefined {
    return this.runs.get(id);
  }

  get busy(): boolean {
    return this.current !== undefined;
  }

  /** Starts a calibration in the background; refuses a second one while one runs, and an empty request. */
  start(request: CalibrationRequest): CalibrationRun {
    if (this.current) throw new BadInputError('a calibration is already running');
    const uids = request.studyInstanceUIDs ?? [];
    if (uids.some((u) => typeof u !== 'string' || !UID.test(u))) throw new BadInputError('studyInstanceUIDs must be Study Instance UIDs');
    if (uids.length === 0 && !request.metadata) throw new BadInputError('K = 0: give studyInstanceUIDs or a metadata {name, value} that marks annotated studies');
    const run: CalibrationRun = { id: this.next++, state: 'running', done: 0, total: 1, what: 'finding studies', startedAt: new Date().toISOString() };
    this.runs.set(run.id, run);
    this.current = this.execute(run, request).finally(() => {
      this.current = undefined;
    });
    return run;
  }

  /** Waits for the running calibration, if any (tests, shutdown). */
  async idle(): Promise<void> {
    await this.current;
  }

  private async execute(run: CalibrationRun, request: CalibrationRequest): Promise<void> {
    const { logger } = this.deps;
    // A registry of this run alone: a calibration is rare, and its session is released when it ends.
    const models = new ModelRegistry();
    try {
      let uids = [...new Set(request.studyInstanceUIDs ?? [])];
      if (request.metadata) uids = [...new Set([...uids, ...(await this.studiesWithMetadata(request.metadata.name, request.metadata.value))])];
      if (request.onlyNew) {
        const used = new Set(this.deps.store.list().flatMap((c) => c.profile.sourceStudies));
        uids = uids.filter((u) => !used.has(hashedUid(u)));
      }
      if (uids.length === 0) throw new BadInputError('K = 0: no annotated study found for this calibration');
      const model = await loadModel(models, this.deps.config.model.manifest);
      run.total = uids.length + 1;
      const studies: AnnotatedStudy[] = [];
      for (const uid of uids) {
        run.what = `reading study ${studies.length + 1}/${uids.length}`;
        studies.push(await annotatedStudy(await this.retrieveStudy(uid), `study ${uid}`, model));
        run.done++;
      }
      const profile = await calibrate(model, studies, {
        store: this.deps.store,
        rule: { minGain: this.deps.config.calibration.minGain, maxStructureLoss: this.deps.config.calibration.maxStructureLoss },
        onProgress: (done, total, what) => {
          run.total = uids.length + total;
          run.done = uids.length + done;
          run.what = what;
        },
      });
      run.profile = profile;
      run.state = 'done';
      logger.info('calibration finished', { calibration: profile.id, promoted: profile.promoted, reason: profile.reason, k: profile.k });
    } catch (error) {
      run.state = 'failed';
      run.error = (error as Error).message;
      logger.warn('calibration failed; nothing active changed', { error: run.error });
    } finally {
      await models.close();
      run.finishedAt = new Date().toISOString();
    }
  }

  private async studiesWithMetadata(name: string, value: string): Promise<string[]> {
    const { client } = this.deps;
    const ids = await client.getJson<string[]>('/studies');
    const out: string[] = [];
    for (const id of ids) {
      const metadata = await studyMetadata(client, id);
      if (metadata[name] !== value) continue;
      const study = await client.getJson<{ MainDicomTags: Record<string, string> }>(`/studies/${encodeURIComponent(id)}`);
      if (study.MainDicomTags.StudyInstanceUID) out.push(study.MainDicomTags.StudyInstanceUID);
    }
    return out;
  }

  /** Every instance of the study (images and the reference SEG), as stored. */
  private async retrieveStudy(uid: string): Promise<StudyInstance[]> {
    const { client } = this.deps;
    const orthancId = await findStudyId(client, uid);
    if (orthancId === undefined) throw new BadInputError(`study ${uid} is not in Orthanc`);
    const facts = await gatherStudyFacts(client, orthancId);
    const instances: StudyInstance[] = [];
    for (const series of facts.series) {
      const parts = await client.retrieveSeriesAsStored(uid, series.seriesInstanceUID);
      parts.forEach((bytes, i) => instances.push({ source: `series ${series.seriesInstanceUID} part ${i + 1}`, bytes }));
    }
    return instances;
  }

  /** Starts the configured schedule (config calibration.schedule), if any. */
  schedule(): void {
    const { schedule, annotatedMetadata } = this.deps.config.calibration;
    if (!schedule) return;
    if (!annotatedMetadata) throw new Error('calibration.schedule needs calibration.annotatedMetadata (which studies are annotated)');
    if (!cron.validate(schedule)) throw new Error(`calibration.schedule '${schedule}' is not a cron expression`);
    this.task = cron.schedule(schedule, () => {
      if (this.current) return;
      try {
        this.start({ metadata: annotatedMetadata, onlyNew: true });
      } catch (error) {
        this.deps.logger.warn('scheduled calibration not started', { error: (error as Error).message });
      }
    });
    this.deps.logger.info('calibration scheduled', { schedule });
  }

  async stop(): Promise<void> {
    await this.task?.stop();
    await this.idle();
  }
}
