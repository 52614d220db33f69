/**
 * Test harness around a real Orthanc: `useOrthanc()` starts one for the current test file (or
 * suite) and stops it in an `after` hook; every Orthanc started here is also killed and its
 * temporary files removed when the process exits or receives SIGINT/SIGTERM, so a failing or
 * interrupted test never leaves an Orthanc behind.
 */
import { after, before } from 'node:test';
import { rmSync } from 'node:fs';
import { startOrthanc, type OrthancOptions, type RunningOrthanc } from '../../src/orthanc/local-orthanc.js';

export type { OrthancOptions, RunningOrthanc } from '../../src/orthanc/local-orthanc.js';

const live = new Set<RunningOrthanc>();
let handlersRegistered = false;

function registerExitHandlers(): void {
  if (handlersRegistered) return;
  handlersRegistered = true;
  // 'exit' handlers must be synchronous: kill the processes and remove temporary folders directly.
  process.once('exit', () => {
    for (const orthanc of live) killNow(orthanc);
  });
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const orthanc of live) killNow(orthanc);
      process.exit(130);
    });
  }
}

function killNow(orthanc: RunningOrthanc): void {
  // stop() is async; at exit we can only signal and remove what is ours synchronously.
  void orthanc.stop().catch(() => undefined);
  try {
    rmSync(orthanc.configPath.replace(/\/orthanc\.json$/u, ''), { recursive: true, force: true });
  } catch {
    // best effort at exit
  }
}

/** Starts a real Orthanc that the harness will stop even if the test fails. Call `stop()` yourself when done early. */
export async function startTestOrthanc(options: OrthancOptions = {}): Promise<RunningOrthanc> {
  registerExitHandlers();
  const orthanc = await startOrthanc({ stableAgeSeconds: 2, ...options });
  live.add(orthanc);
  const stop = orthanc.stop.bind(orthanc);
  // Forget it once it is really stopped (not on a keepStorage pause).
  (orthanc as { stop: RunningOrthanc['stop'] }).stop = async (stopOptions) => {
    await stop(stopOptions);
    if (!stopOptions?.keepStorage) live.delete(orthanc);
  };
  return orthanc;
}

/**
 * Starts an Orthanc before the tests of the current file or suite and stops it after them.
 * Returns a getter: call it inside tests (the Orthanc exists only once `before` has run).
 */
export function useOrthanc(options: OrthancOptions = {}): () => RunningOrthanc {
  let orthanc: RunningOrthanc | undefined;
  before(async () => {
    orthanc = await startTestOrthanc(options);
  });
  after(async () => {
    await orthanc?.stop();
  });
  return () => {
    if (orthanc === undefined) throw new Error('Orthanc not started yet: call the getter inside a test');
    return orthanc;
  };
}
