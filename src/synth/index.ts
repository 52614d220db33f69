/**
 * Synthetic cine short-axis studies with exact truth (`pulse synth`).
 *
 *   const study = generateStudy({ seed: 7, group: 'DCM', domain: 'cine-mri' });
 *   study.files          // [{ name: 's00-p00.dcm', bytes }, ...] one Part 10 file per slice and phase
 *   study.truth          // truth.json content (volumes, ED/ES, EF, mass, label index, parameters)
 *   study.labels         // Map<SOPInstanceUID, Uint8Array> label maps on each instance's grid
 *   const dir = await writeStudy('/tmp/out', study);   // -> /tmp/out/<study.name>/{dicom/, truth.json, labels.bin}
 *   const back = await readSynthStudy(dir);            // truth + label maps + DICOM file paths
 */
export { generateStudy } from './generate.js';
export { writeStudy, readSynthStudy, type SynthStudyOnDisk } from './write-study.js';
export { SYNTH_COVERAGES, SYNTH_DOMAINS, SYNTH_GROUPS } from './types.js';
export type { SynthCoverage, SynthDomain, SynthFile, SynthGroup, SynthLabelEntry, SynthMeasurements, SynthOptions, SynthStudy, SynthTruth } from './types.js';
