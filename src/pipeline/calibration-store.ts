/**
 * The file edge of site calibration: every calibration ever made, kept as one versioned JSON file
 * under `<data>/calibrations/<id>.json`, and which ones are active in `<data>/calibrations/state.json`
 * (with the history of activations, so that a roll-back restores the previous set). The state file is
 * read on every question, so an activation or roll-back (from the CLI or the API) reaches new jobs
 * at once, without a restart, and survives one.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { checkHeadParameters } from '../calibration/head.js';
import { sameScope, type CalibrationProfile, type CalibrationStatus } from '../calibration/profile.js';
import { BadInputError } from '../core/errors.js';

export interface CalibrationState {
  readonly formatVersion: 1;
  readonly active: readonly string[];
  /** Every change, oldest first; `previous` is the active set before it (what a roll-back restores). */
  readonly history: ReadonlyArray<{ readonly at: string; readonly action: 'activate' | 'deactivate' | 'rollback'; readonly id: string | null; readonly previous: readonly string[] }>;
}

export interface ListedCalibration {
  readonly profile: CalibrationProfile;
  readonly status: CalibrationStatus;
}

/** A calibration that does not exist, or a file that is not one. */
export class CalibrationNotFoundError extends BadInputError {}

const ID = /^cal-[0-9]{8}-[0-9]{6}-[0-9a-f]{6}$/;

/** Reads and checks a profile file (shape, head dimensions). */
export function readProfileFile(path: string): CalibrationProfile {
  let profile: CalibrationProfile;
  try {
    profile = JSON.parse(readFileSync(path, 'utf8')) as CalibrationProfile;
  } catch (error) {
    throw new CalibrationNotFoundError(`calibration file ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  if (profile?.format !== 'pulse-calibration' || profile.formatVersion !== 1 || typeof profile.id !== 'string') {
    throw new CalibrationNotFoundError(`${path} is not a pulse calibration (format pulse-calibration, formatVersion 1)`);
  }
  const head = profile.parameters?.head;
  if (!head) throw new CalibrationNotFoundError(`calibration ${profile.id}: parameters.head is missing`);
  checkHeadParameters(head, head.features, head.classes, `calibration ${profile.id}`);
  return profile;
}

export class CalibrationStore {
  readonly dir: string;

  constructor(dataDir: string) {
    this.dir = join(resolve(dataDir), 'calibrations');
  }

  private statePath(): string {
    return join(this.dir, 'state.json');
  }

  private writeAtomic(path: string, text: string): void {
    mkdirSync(this.dir, { recursive: true });
    const tmp = `${path}.${process.pid}.tmp`;
    writeFileSync(tmp, text);
    renameSync(tmp, path);
  }

  state(): CalibrationState {
    if (!existsSync(this.statePath())) return { formatVersion: 1, active: [], history: [] };
    return JSON.parse(readFileSync(this.statePath(), 'utf8')) as CalibrationState;
  }

  /** A new id: creation time and a content hash prefix. */
  static newId(created: Date, contentHash: string): string {
    const iso = created.toISOString();
    return `cal-${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}-${contentHash.slice(0, 6)}`;
  }

  save(profile: CalibrationProfile): string {
    if (!ID.test(profile.id)) throw new TypeError(`calibration id '${profile.id}' is malformed`);
    const path = join(this.dir, `${profile.id}.json`);
    this.writeAtomic(path, `${JSON.stringify(profile)}\n`);
    return path;
  }

  /** A stored calibration by id, or a calibration file by path. */
  get(idOrPath: string): CalibrationProfile {
    if (ID.test(idOrPath)) {
      const path = join(this.dir, `${idOrPath}.json`);
      if (!existsSync(path)) throw new CalibrationNotFoundError(`calibration ${idOrPath} is not in ${this.dir}`);
      return readProfileFile(path);
    }
    if (existsSync(idOrPath)) return readProfileFile(idOrPath);
    throw new CalibrationNotFoundError(`calibration '${idOrPath}' is neither a stored id in ${this.dir} nor a file`);
  }

  statusOf(profile: CalibrationProfile, state = this.state()): CalibrationStatus {
    if (state.active.includes(profile.id)) return 'active';
    return profile.promoted || state.history.some((h) => h.id === profile.id) ? 'inactive' : 'rejected';
  }

  /** Every stored calibration, newest first. */
  list(): ListedCalibration[] {
    if (!existsSync(this.dir)) return [];
    const state = this.state();
    return readdirSync(this.dir)
      .filter((name) => ID.test(basename(name, '.json')) && name.endsWith('.json'))
      .map((name) => readProfileFile(join(this.dir, name)))
      .sort((a, b) => b.created.localeCompare(a.created) || b.id.localeCompare(a.id))
      .map((profile) => ({ profile, status: this.statusOf(profile, state) }));
  }

  /** The active calibrations of one model version. */
  active(model: { name: string; version: string }): CalibrationProfile[] {
    return this.state()
      .active.map((id) => this.get(id))
      .filter((p) => p.model.name === model.name && p.model.version === model.version);
  }

  private change(action: CalibrationState['history'][number]['action'], id: string | null, active: readonly string[]): CalibrationState {
    const state = this.state();
    const next: CalibrationState = { formatVersion: 1, active: [...active], history: [...state.history, { at: new Date().toISOString(), action, id, previous: state.active }] };
    this.writeAtomic(this.statePath(), `${JSON.stringify(next, null, 2)}\n`);
    return next;
  }

  /** Makes a calibration active; an active one with the same scope and model is retired. */
  activate(id: string): CalibrationState {
    const profile = this.get(id);
    const state = this.state();
    const keep = state.active.filter((other) => {
      if (other === id) return false;
      const p = this.get(other);
      return !(sameScope(p.scope, profile.scope) && p.model.name === profile.model.name && p.model.version === profile.model.version);
    });
    return this.change('activate', id, [...keep, id]);
  }

  deactivate(id: string): CalibrationState {
    this.get(id);
    return this.change('deactivate', id, this.state().active.filter((a) => a !== id));
  }

  /** Restores the active set as it was before the last activation or deactivation. */
  rollback(): CalibrationState {
    const state = this.state();
    // Walk back over earlier roll-backs: each undoes one more change.
    let undone = 0;
    for (let i = state.history.length - 1; i >= 0; i--) {
      const entry = state.history[i]!;
      if (entry.action === 'rollback') {
        undone++;
        continue;
      }
      if (undone > 0) {
        undone--;
        continue;
      }
      return this.change('rollback', entry.id, entry.previous);
    }
    throw new BadInputError('nothing to roll back: no activation in the history');
  }
}
