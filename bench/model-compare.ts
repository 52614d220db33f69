/**
 * Two model exports side by side in one process (e.g. PULSE-lite in float and its int8 variant), run
 * by run alternated so that the shared machine's load weighs on both alike:
 * - per-slice latency of the network alone: one fixed batch (16 by default) through a session of
 *   the calling thread;
 * - pure inference per study: the session.run calls processStudy makes for a 10 x 25 synthetic study,
 *   recorded once per model and replayed one after the other on a session of the calling thread (as
 *   `npm run bench` and bench/compare.ts define it);
 * - end-to-end processStudy time of the same study.
 * Same build, same threads (1 by default, the service's default). Prints one line per model and run,
 * the medians and the ratios, and writes them with the load average to --out when given.
 *
 *   node dist/bench/model-compare.js [--models models/pulse-lite/manifest.json,models/pulse-lite-int8/manifest.json]
 *     [--runs 5] [--batch 16] [--threads 1] [--out bench/model-compare.json]
 */
import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { resolve } from 'node:path';
import { argument, median } from './args.js';
import { ModelRegistry } from '../src/model/registry.js';
import { ModelSession } from '../src/model/session.js';
import { processStudy } from '../src/pipeline/process-study.js';
import { generateStudy } from '../src/synth/index.js';

interface RecordedCall {
  readonly input: Float32Array;
  readonly count: number;
  readonly withFeatures: boolean;
}

interface Figures {
  readonly manifest: string;
  readonly name: string;
  readonly modelBytes: number;
  readonly msPerSlice: number[];
  readonly pureMs: number[];
  readonly e2eMs: number[];
}

async function main(): Promise<void> {
  const named = (argument('models') ?? 'models/pulse-lite/manifest.json,models/pulse-lite-int8/manifest.json').split(',');
  const runs = Number(argument('runs') ?? 5);
  const batch = Number(argument('batch') ?? 16);
  const threads = Number(argument('threads') ?? 1);
  const out = argument('out');
  const study = generateStudy({ seed: 1, group: 'NOR', slices: 10, phases: 25 });
  const instances = study.files.map((f) => ({ source: f.name, bytes: f.bytes }));

  const models = new ModelRegistry();
  // direct: a session of this thread with the pipeline's options (the model alone, no thread hop).
  const entries: Array<{ direct: ModelSession; recorded: RecordedCall[]; figures: Figures; manifestPath: string }> = [];
  for (const given of named) {
    const manifestPath = resolve(given);
    const { manifest, session } = await models.load(manifestPath, threads);
    const recorded: RecordedCall[] = [];
    const pipelineRun = session.run.bind(session);
    const { channels, rows, columns } = session.shape;
    // Record the calls of one processStudy through the pipeline's runner (the registry hands it out
    // again); copied before a batch moves to the inference thread.
    session.run = async (input, count, withFeatures = false, runOptions) => {
      recorded.push({ input: input.slice(0, count * channels * rows * columns), count, withFeatures });
      return pipelineRun(input, count, withFeatures, runOptions);
    };
    await processStudy(instances, { models, manifestPath, threads });
    session.run = pipelineRun;
    entries.push({
      direct: await ModelSession.create(manifest, { threads }),
      recorded,
      manifestPath,
      figures: { manifest: given, name: `${manifest.name} ${manifest.version}`, modelBytes: statSync(resolve(manifest.directory, manifest.model.file)).size, msPerSlice: [], pureMs: [], e2eMs: [] },
    });
  }

  const first = entries[0]!.direct.shape;
  const fixed = new Float32Array(batch * first.channels * first.rows * first.columns);
  for (let i = 0; i < fixed.length; i++) fixed[i] = Math.sin(i * 0.013) * 1.5;
  for (const e of entries) for (let i = 0; i < 3; i++) await e.direct.run(fixed, batch); // warm-up

  const loads: number[] = [];
  for (let r = 0; r < runs; r++) {
    for (const e of entries) {
      const slices: number[] = [];
      for (let i = 0; i < 5; i++) {
        const t = performance.now();
        await e.direct.run(fixed, batch);
        slices.push((performance.now() - t) / batch);
      }
      const tp = performance.now();
      for (const call of e.recorded) await e.direct.run(call.input, call.count, call.withFeatures);
      const pure = performance.now() - tp;
      const te = performance.now();
      await processStudy(instances, { models, manifestPath: e.manifestPath, threads });
      const e2e = performance.now() - te;
      e.figures.msPerSlice.push(median(slices));
      e.figures.pureMs.push(pure);
      e.figures.e2eMs.push(e2e);
      loads.push(loadavg()[0]!);
      process.stdout.write(`${e.figures.name.padEnd(22)} run ${r + 1}: ${median(slices).toFixed(2)} ms/slice (batch ${batch}), pure inference ${pure.toFixed(0)} ms, end-to-end ${e2e.toFixed(0)} ms; load ${loadavg()[0]!.toFixed(2)}\n`);
    }
  }

  const summary = entries.map((e) => ({
    model: e.figures.name,
    manifest: e.figures.manifest,
    modelBytes: e.figures.modelBytes,
    msPerSliceMedian: +median(e.figures.msPerSlice).toFixed(2),
    pureInferenceMsMedian: +median(e.figures.pureMs).toFixed(0),
    endToEndMsMedian: +median(e.figures.e2eMs).toFixed(0),
    runs: { msPerSlice: e.figures.msPerSlice.map((v) => +v.toFixed(2)), pureMs: e.figures.pureMs.map((v) => +v.toFixed(0)), e2eMs: e.figures.e2eMs.map((v) => +v.toFixed(0)) },
  }));
  const base = summary[0]!;
  process.stdout.write(`medians of ${runs} alternated runs; batch ${batch}, ${threads} thread(s); ${cpus().length} cores; load average (1 min) ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)}\n`);
  for (const s of summary) {
    process.stdout.write(`${s.model.padEnd(22)} ${(s.modelBytes / 1e6).toFixed(2)} MB, ${s.msPerSliceMedian} ms/slice (x${(s.msPerSliceMedian / base.msPerSliceMedian).toFixed(2)}), pure inference ${s.pureInferenceMsMedian} ms/study (x${(s.pureInferenceMsMedian / base.pureInferenceMsMedian).toFixed(2)}), end-to-end ${s.endToEndMsMedian} ms/study (x${(s.endToEndMsMedian / base.endToEndMsMedian).toFixed(2)})\n`);
  }
  if (out) {
    await writeFile(out, `${JSON.stringify({ date: new Date().toISOString(), study: '10 slices x 25 phases, synthetic seed 1', runs, batch, threads, cores: cpus().length, loadAverage1m: { min: Math.min(...loads), max: Math.max(...loads) }, models: summary }, null, 2)}\n`);
  }
  for (const e of entries) await e.direct.release();
  await models.close();
}

main().catch((error: unknown) => {
  process.stderr.write(`bench model-compare: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
