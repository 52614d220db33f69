/**
 * The layering of src/ (docs/architecture.md draws it), checked by scripts/test.sh before the tests:
 * `npx depcruise --config .dependency-cruiser.cjs src`. A folder may import its own layer's folders
 * and the layers below it, never a layer above; no file may take part in an import cycle.
 *
 * Type-only imports count: the swc parser reads the TypeScript sources (dependency-cruiser's own
 * TypeScript support needs the TypeScript 5 compiler API, which TypeScript 7 no longer ships).
 */

/** Bottom to top. Each entry lists folders under src/ that form one layer. */
const LAYERS = [
  ['core'], //                                   contracts: result, identities, errors, logger, geometry
  ['util'], //                                   small helpers with no domain knowledge
  ['study', 'model', 'analysis', 'dicom', 'calibration', 'fhir'], // the pure core: data in, data out
  ['synth', 'nifti'], //                         study sources: synthetic studies, NIfTI import
  ['pipeline', 'config'], //                     one study offline; the typed configuration
  ['orthanc', 'queue'], //                       edges: the Orthanc client, the job store
  ['service', 'server'], //                      the running service and its HTTP face
  ['cli'], //                                    the `pulse` command
];

const alt = (folders) => `^src/(${folders.join('|')})/`;

/** One rule per layer: nothing above it. */
const layerRules = LAYERS.slice(0, -1).map((layer, index) => ({
  name: `layer-${layer.join('-')}`,
  comment: `${layer.join(', ')} may import only ${LAYERS.slice(0, index + 1).flat().join(', ')} (see docs/architecture.md)`,
  severity: 'error',
  from: { path: alt(layer) },
  to: { path: alt(LAYERS.slice(index + 1).flat()) },
}));

/** Finer rules inside a layer. */
const withinLayers = [
  {
    name: 'core-is-self-contained',
    comment: 'core holds the contracts every layer shares; it imports nothing else from src/',
    from: { path: '^src/core/' },
    to: { path: '^src/', pathNot: '^src/(core|types)/' },
  },
  {
    name: 'study-below-model-and-analysis',
    comment: 'the study reader knows nothing of the model, analysis or calibration',
    from: { path: '^src/study/' },
    to: { path: '^src/(model|analysis|calibration)/' },
  },
  {
    name: 'model-below-analysis',
    comment: 'the model runtime knows nothing of analysis, calibration or the DICOM writers',
    from: { path: '^src/model/' },
    to: { path: '^src/(analysis|calibration|dicom)/' },
  },
  {
    name: 'analysis-and-calibration-write-no-dicom',
    comment: 'measurements, diagnosis and calibration maths produce data; the DICOM writers consume it',
    from: { path: '^src/(analysis|calibration)/' },
    to: { path: '^src/dicom/' },
  },
  {
    name: 'orthanc-not-queue',
    comment: 'the Orthanc client and the job store are separate edges; the service wires them',
    from: { path: '^src/orthanc/' },
    to: { path: '^src/queue/' },
  },
  {
    name: 'queue-not-orthanc',
    comment: 'the Orthanc client and the job store are separate edges; the service wires them',
    from: { path: '^src/queue/' },
    to: { path: '^src/orthanc/' },
  },
].map((rule) => ({ severity: 'error', ...rule }));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      comment: 'import cycles make the layering meaningless and the start-up order fragile',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'an import that does not resolve',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
    {
      name: 'src-not-to-test',
      comment: 'production code never imports tests or benchmarks',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(test|bench)/' },
    },
    ...layerRules,
    ...withinLayers,
  ],
  options: {
    parser: 'swc',
    tsPreCompilationDeps: true,
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '^dist/' },
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.d.ts'] },
  },
};
