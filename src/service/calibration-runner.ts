/**
 * Site calibration inside the service: annotated studies taken from Orthanc (a list of
 * StudyInstanceUIDs, or every study carrying a configured metadata value), retrieved over WADO-RS
 * (images + the reference SEG) on this thread, then read, fitted and decided by the same code as
 * `pulse calibrate` in a worker thread (calibration-thread.ts: the HTTP face and the lease heartbeats
 * keep running), stored and activated under the data folder. One calibration runs at a time, in the
 * background, with progress, and can be cancelled; a failed, cancelled or unhelpful one changes
 * nothing active and says why. Also the node-cron schedule.
 */
import cron, { type ScheduledTask } from 'node-cron';
import type { ServiceConfig } from '../config/schema.js';
import type { OrthancRestClient } from '../orthanc/rest-client.js';
import { findStudyId, gatherStudyFacts, studyMetadata } from '../orthanc/metadata.js';
import { hashedUid } from '../pipeline/calibrate.js';
import { CalibrationStore } from '../pipeline/calibration-store.js';
import { calibrateInThread } from './calibration-thread.js';
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
  state: 'running' | 'done' | 'failed' | 'cancelled';
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
  private readonly stops = new Map<number, AbortController>();
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
    const stop = new AbortController();
    this.stops.set(run.id, stop);
    this.current = this.execute(run, request, stop.signal).finally(() => {
      this.stops.delete(run.id);
      this.current = undefined;
    });
    return run;
  }

  /** Stops a running calibration at its next unit of work; false when it is not running. */
  cancel(id: number): boolean {
    const stop = this.stops.get(id);
    if (!stop) return false;
    stop.abort(new Error('the calibration was cancelled'));
    return true;
  }

  /** Waits for the running calibration, if any (tests, shutdown). */
  async idle(): Promise<void> {
    await this.current;
  }

  private async execute(run: CalibrationRun, request: CalibrationRequest, signal: AbortSignal): Promise<void> {
    const { logger, config } = this.deps;
    try {
      let uids = [...new Set(request.studyInstanceUIDs ?? [])];
      if (request.metadata) uids = [...new Set([...uids, ...(await this.studiesWithMetadata(request.metadata.name, request.metadata.value))])];
      if (request.onlyNew) {
        const used = new Set(this.deps.store.list().flatMap((c) => c.profile.sourceStudies));
        uids = uids.filter((u) => !used.has(hashedUid(u)));
      }
      if (uids.length === 0) throw new BadInputError('K = 0: no annotated study found for this calibration');
      // Retrieval is I/O (this thread waits, it does not compute); reading and fitting run in a thread.
      run.total = 2 * uids.length + 1;
      const studies: Array<{ where: string; instances: StudyInstance[] }> = [];
      for (const uid of uids) {
        signal.throwIfAborted();
        run.what = `retrieving study ${studies.length + 1}/${uids.length}`;
        studies.push({ where: `study ${uid}`, instances: await this.retrieveStudy(uid) });
        run.done++;
      }
      const retrieved = uids.length;
      const profile = await calibrateInThread(
        {
          dataDir: config.dataDir,
          ...(config.model.manifest ? { manifestPath: config.model.manifest } : {}),
          studies,
          rule: {
            minGain: config.calibration.minGain,
            maxStructureLoss: config.calibration.maxStructureLoss,
            maxEndToEndLvefMaeIncrease: config.calibration.maxEndToEndLvefMaeIncrease,
            maxEndToEndVolumeErrorIncrease: config.calibration.maxEndToEndVolumeErrorIncrease,
          },
        },
        {
          signal,
          onProgress: (done, total, what) => {
            run.total = retrieved + total;
            run.done = retrieved + done;
            run.what = what;
          },
        },
      );
      run.profile = profile;
      run.state = 'done';
      logger.info('calibration finished', { calibration: profile.id, promoted: profile.promoted, reason: profile.reason, k: profile.k });
    } catch (error) {
      run.state = signal.aborted ? 'cancelled' : 'failed';
      run.error = signal.aborted ? 'the calibration was cancelled' : (error as Error).message;
      logger.warn(signal.aborted ? 'calibration cancelled; nothing active changed' : 'calibration failed; nothing active changed', { error: run.error });
    } finally {
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

  /** Stops the schedule and cancels a running calibration (it stores nothing). */
  async stop(): Promise<void> {
    await this.task?.stop();
    for (const stop of this.stops.values()) stop.abort(new Error('the service is stopping'));
    await this.idle();
  }
}
