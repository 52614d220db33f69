/** Enumerated values of the Segmentation IOD, named after the attribute they fill. */
export type SegmentAlgorithmTypeValues = 'AUTOMATIC' | 'SEMIAUTOMATIC' | 'MANUAL';
export type SegmentationTypeValues = 'BINARY';

/** Segmentation Storage SOP Class. */
export const SEGMENTATION_SOP_CLASS_UID = '1.2.840.10008.5.1.4.1.1.66.4';
