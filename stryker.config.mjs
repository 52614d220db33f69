// @ts-check
/**
 * Mutation testing (StrykerJS) of the core modules: `npm run test:mutation` runs every module in
 * turn; `PULSE_MUTATION_MODULE=router npm run test:mutation` runs one (names below). Not part of CI:
 * the score is a figure we track (docs/testing.md), not a gate.
 *
 * Runner: Stryker's tap runner executes each test file with `node --import tsx`, so the mutated
 * TypeScript in the sandbox runs without a build. The TypeScript checker is not used: it drives the
 * compiler through TypeScript's JavaScript API, which TypeScript 7 (the native port this project
 * builds with) does not offer (its tsconfig rewriting needs it too: skipped below); a mutant that
 * would not type-check simply runs (docs/testing.md).
 */
const MODULES = {
  conventions: { mutate: ['src/analysis/conventions.ts'], tests: ['test/analysis-conventions.test.ts', 'test/analysis-measurements.test.ts'] },
  measurements: { mutate: ['src/analysis/measurements.ts'], tests: ['test/analysis-measurements.test.ts'] },
  // The ED/ES choice of a calibration (largest and smallest reference LV volume among fully annotated
  // phases) and the coverage count that uses it: only those lines of cases.ts (the rest runs the model).
  'calibration-ed-es': { mutate: ['src/calibration/cases.ts:58-72', 'src/calibration/cases.ts:221-239'], tests: ['test/calibration-ed-es.test.ts'] },
  // seg.test and sr.test hold no Java: PixelMed's checks are in seg-sr-pixelmed.test, left out here
  // (a JVM start per surviving mutant); dciodvfy and dsrdump (native, milliseconds) stay in.
  seg: { mutate: ['src/dicom/seg/sop.ts', 'src/dicom/seg/content.ts', 'src/dicom/seg/bitpack.ts'], tests: ['test/seg.test.ts', 'test/bitpack.test.ts', 'test/output-uids.test.ts'] },
  sr: { mutate: ['src/dicom/sr/sop.ts', 'src/dicom/sr/content.ts', 'src/dicom/sr/measurements.ts'], tests: ['test/sr.test.ts', 'test/output-uids.test.ts'] },
  uid: { mutate: ['src/dicom/uid.ts'], tests: ['test/uid.test.ts', 'test/output-uids.test.ts'] },
  queue: { mutate: ['src/queue/sqlite-job-store.ts'], tests: ['test/queue.test.ts', 'test/queue-worker.test.ts'] },
  router: { mutate: ['src/service/router.ts'], tests: ['test/router.test.ts'] },
  'series-rules': { mutate: ['src/study/series-rules.ts'], tests: ['test/series-rules.test.ts', 'test/study-read.test.ts', 'test/study-errors.test.ts'] },
};

const only = process.env.PULSE_MUTATION_MODULE;
if (only !== undefined && !(only in MODULES)) throw new Error(`PULSE_MUTATION_MODULE=${only}: one of ${Object.keys(MODULES).join(', ')}`);
const chosen = only ? [MODULES[/** @type {keyof typeof MODULES} */ (only)]] : Object.values(MODULES);

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'tap',
  plugins: ['@stryker-mutator/tap-runner'],
  tap: {
    testFiles: [...new Set(chosen.flatMap((m) => m.tests))],
    nodeArgs: ['--import', 'tsx', '--test-reporter=tap'],
    forceBail: true,
  },
  mutate: chosen.flatMap((m) => m.mutate),
  coverageAnalysis: 'perTest',
  concurrency: 2,
  timeoutMS: 60_000,
  reporters: ['clear-text', 'progress', 'json'],
  jsonReporter: { fileName: `reports/mutation/${only ?? 'all'}.json` },
  ignorePatterns: ['dist', 'reports', 'training', 'bench/results.json', '.stryker-tmp', 'models/**/*.onnx'],
  tempDirName: '.stryker-tmp',
  // Stryker rewrites the sandbox's tsconfig.json through TypeScript's JavaScript API, which
  // TypeScript 7 lacks (ts.parseConfigFileTextToJson is not a function). Our tsconfig has no
  // references or extends to rewrite: point Stryker at a file that does not exist so it skips that step.
  tsconfigFile: 'tsconfig.stryker-none.json',
  cleanTempDir: 'always',
};
