/** Enumerated values of the SR IODs, named after the attribute they fill. */
export type RelationshipTypeValues = 'CONTAINS' | 'HAS PROPERTIES' | 'HAS CONCEPT MOD' | 'HAS OBS CONTEXT' | 'HAS ACQ CONTEXT' | 'INFERRED FROM' | 'SELECTED FROM';
export type ValueTypeValues = 'CONTAINER' | 'CODE' | 'NUM' | 'TEXT' | 'UIDREF' | 'IMAGE' | 'PNAME' | 'DATE' | 'TIME' | 'DATETIME' | 'COMPOSITE';
export type ContinuityOfContentValues = 'SEPARATE' | 'CONTINUOUS';
export type CompletionFlagValues = 'PARTIAL' | 'COMPLETE';
export type VerificationFlagValues = 'UNVERIFIED' | 'VERIFIED';

/** Comprehensive 3D SR Storage (IHE AI Results: TID 1500 root). */
export const COMPREHENSIVE_3D_SR_SOP_CLASS_UID = '1.2.840.10008.5.1.4.1.1.88.34';
