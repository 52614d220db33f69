/**
 * NIfTI import (`pulse import-nifti`):
 *
 *   const acdc = await importAcdcPatient('../shared/data/acdc/training/patient001');
 *   acdc.files    // [{ name: 's00-p00.dcm', bytes }, ...] MR Image Storage, one per slice and phase
 *   acdc.labels   // Map<SOPInstanceUID, Uint8Array>: ACDC labels (1 RV, 2 MYO, 3 LV) on each instance's grid
 *   acdc.info     // UIDs, grid size, ED/ES phase indices, group, height, weight, instances
 *   const vol = await importNiftiVolume('volume.nii.gz', { labelsPath: 'labels.nii.gz' });
 */
export { importAcdcPatient, importNiftiVolume, parseAcdcInfo, ACDC_LABELS, NOMINAL_RR_MS } from './import.js';
export type { AcdcImport, AcdcImportOptions, LabelledStack, AcdcInfo, AcdcConfig, NiftiImport, NiftiImportInfo, NiftiVolumeImportOptions, ImportedFile, ImportedInstance } from './import.js';
export type { PhaseVolume } from './mr-series.js';
export { readNifti, parseNifti, type NiftiVolume, type Affine, type AffineSource } from './read-nifti.js';
export { sliceGeometry, toLps, voxelToLps, type SliceGeometry } from './geometry.js';
