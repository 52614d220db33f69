/** Public API of the DICOM writers (the pipeline imports from here). */
export { buildSegmentation, segmentationReference, segmentationUids, type SegmentationInput, type BuiltSegmentation, type SegmentationFrame } from './seg/sop.js';
export { buildMeasurementReport, measurementReportUids, type MeasurementReportInput, type BuiltMeasurementReport, type ReferencedSegmentation, type NarrativeParts } from './sr/sop.js';
export { buildOverlay, overlayUids, type OverlayInput, type BuiltOverlay } from './overlay/sop.js';
export { algorithmDeviceUid } from './modules/equipment.js';
