/**
 * Before/after in one process: the pipeline of another build (a checkout's compiled dist/, e.g. main
 * before a change) and of this one, alternated run by run on the same 10 x 25 synthetic study, so
 * that the machine's load weighs on both alike. For each build: end-to-end processStudy time with its
 * own defaults, its stages, and pure inference as `npm run bench` defines it (the model's session.run
 * over the calls that build's pipeline makes, recorded and replayed on a session of the calling
 * thread with the build's default options: the model alone, whichever thread the pipeline runs it on).
 * Prints one line per build and run, then the medians; nothing is written.
 *
 *   node dist/bench/compare.js --baseline /path/to/other/checkout [--runs 3]
 *     (the other checkout built: its dist/ next to its node_modules or this one's)
 */
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { argument, median } from './args.js';

interface Build {
  readonly name: string;
  readonly e2e: () => Promise<{ ms: number; stages: Record<string, number> }>;
  readonly pure: () => Promise<number>;
  readonly close: () => Promise<void>;
}

interface RecordedCall {
  readonly input: Float32Array;
  readonly count: number;
  readonly withFeatures: boolean;
}

type Run = (input: Float32Array, count: number, withFeatures?: boolean) => Promise<unknown>;



/** The pipeline of the build whose compiled modules lie under `dist`, with that build's defaults. */
async function build(name: string, dist: string): Promise<Build> {
  const load = async <T>(path: string): Promise<T> => (await import(pathToFileURL(join(dist, path)).href)) as T;
  const { generateStudy } = await load<{ generateStudy: (o: object) => { files: Array<{ name: string; bytes: Uint8Array }> } }>('src/synth/index.js');
  const { ModelRegistry } = await load<{ ModelRegistry: new () => { load: (m?: string) => Promise<{ manifest: object; session: { run: Run; shape: { channels: number; rows: number; columns: number } } }>; close: () => Promise<void> } }>('src/model/registry.js');
  const { ModelSession } = await load<{ ModelSession: { create: (manifest: object) => Promise<{ run: Run; release: () => Promise<void> }> } }>('src/model/session.js');
  const { processStudy } = await load<{ processStudy: (i: unknown, o: object) => Promise<{ result: { timings_ms: Record<string, number> } }> }>('src/pipeline/process-study.js');
  const study = generateStudy({ seed: 1, group: 'NOR', slices: 10, phases: 25 });
  const instances = study.files.map((f) => ({ source: f.name, bytes: f.bytes }));
  const models = new ModelRegistry();
  // The build's default session (its own default thread count), as its processStudy loads it.
  const { manifest, session } = await models.load();
  const sessionRun = session.run.bind(session);
  // Pure inference runs on a session of the calling thread (ModelSession, the build's defaults):
  // session.run alone, with no thread hop, whichever way the build's pipeline reaches its model.
  const direct = await ModelSession.create(manifest);
  const recorded: RecordedCall[] = [];
  let recording = true;
  session.run = async (input, count, withFeatures = false) => {
    if (recording) recorded.push({ input: input.slice(0, count * session.shape.channels * session.shape.rows * session.shape.columns), count, withFeatures });
    return sessionRun(input, count, withFeatures);
  };
  await processStudy(instances, { models });
  recording = false;
  const pure = async (): Promise<number> => {
    const t = performance.now();
    for (const call of recorded) await direct.run(call.input, call.count, call.withFeatures);
    return performance.now() - t;
  };
  await pure();
  return {
    name,
    pure,
    e2e: async () => {
      const t = performance.now();
      const outputs = await processStudy(instances, { models });
      return { ms: performance.now() - t, stages: outputs.result.timings_ms };
    },
    close: async () => {
      await direct.release();
      await models.close();
    },
  };
}

async function main(): Promise<void> {
  const baseline = argument('baseline');
  if (!baseline) throw new Error('--baseline <checkout with a built dist/> is required');
  const runs = Number(argument('runs') ?? 3);
  const builds = [await build('baseline', join(resolve(baseline), 'dist')), await build('this build', resolve(import.meta.dirname, '..'))];
  const figures = new Map(builds.map((b) => [b.name, { e2e: [] as number[], pure: [] as number[], stages: [] as Array<Record<string, number>> }]));
  const loads: number[] = [];
  for (let i = 0; i < runs; i++) {
    for (const b of builds) {
      const f = figures.get(b.name)!;
      const pure = await b.pure();
      const { ms, stages } = await b.e2e();
      f.pure.push(pure);
      f.e2e.push(ms);
      f.stages.push(stages);
      loads.push(loadavg()[0]!);
      process.stdout.write(`${b.name.padEnd(10)} run ${i + 1}: end-to-end ${ms.toFixed(0)} ms, pure inference ${pure.toFixed(0)} ms, ratio ${(ms / pure).toFixed(3)}; load ${loadavg()[0]!.toFixed(2)}\n`);
    }
  }
  process.stdout.write(`medians of ${runs} alternated runs; ${cpus().length} cores; load average (1 min) ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}\n`);
  for (const b of builds) {
    const f = figures.get(b.name)!;
    const stageNames = Object.keys(f.stages[0]!);
    const stages = stageNames.map((s) => `${s} ${median(f.stages.map((x) => x[s] ?? 0)).toFixed(0)}`).join(', ');
    process.stdout.write(`${b.name.padEnd(10)} end-to-end ${median(f.e2e).toFixed(0)} ms, pure inference ${median(f.pure).toFixed(0)} ms, ratio ${(median(f.e2e) / median(f.pure)).toFixed(3)}; stages ${stages}\n`);
    await b.close();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`bench compare: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
