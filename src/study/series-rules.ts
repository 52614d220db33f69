/**
 * Which series of a study is the cine short-axis stack: validated configuration, not code
 * (after MONAI Deploy's series selector). Each rule that rejects a series says why in a SeriesDecision.
 *
 * One schema for everyone who selects series: the study reader applies all of it; the service's
 * router pre-checks the same rules (metadata through `seriesMetadataRejection`, the cine shape through
 * minSlices/minPhases) on what Orthanc's index knows, and hands the same rules to the pipeline
 * (configuration `routing.series`), so the two never disagree on defaults.
 */
import { z } from 'zod';

/** A JavaScript regular expression source, matched case-insensitively; checked when the rules are read. */
export const RegexSource = z.string().refine((s) => {
  try {
    new RegExp(s, 'iu');
    return true;
  } catch {
    return false;
  }
}, 'not a valid regular expression');
const regex = RegexSource;

export const SeriesSelectionRulesSchema = z
  .object({
    /** Accepted Modality values. @defaultValue ['MR'] */
    modalities: z.array(z.string().min(1)).min(1).default(['MR']),
    /** Accepted SOP Class UIDs. @defaultValue MR Image Storage and Enhanced MR Image Storage */
    sopClassUIDs: z.array(z.string().min(1)).min(1).default(['1.2.840.10008.5.1.4.1.1.4', '1.2.840.10008.5.1.4.1.1.4.1']),
    /** SeriesDescription must match one of these (case-insensitive) when the list is not empty. @defaultValue [] */
    seriesDescriptionInclude: z.array(regex).default([]),
    /** SeriesDescription must match none of these (case-insensitive). @defaultValue localizers, scouts, LGE, T1/T2 maps, our own outputs */
    seriesDescriptionExclude: z
      .array(regex)
      .default(['localizer|locali[sz]er|scout|survey|tri-?pilot', '\\bLGE\\b|late gad|\\bPSIR\\b|\\bMOLLI\\b|\\bT1 ?map|\\bT2 ?map', '\\bPULSE\\b|\\bAUTOMATED\\b']),
    /**
     * Orientation: 'short-axis' accepts only oblique planes, i.e. those whose normal is more than
     * `maxAxisAlignmentDeg` away from every patient axis (a scanner's cardiac short axis is
     * double-oblique); 'any' also accepts axial, coronal and sagittal stacks; 'prefer-short-axis'
     * takes an oblique stack when the study has one and otherwise an axis-aligned one, because
     * studies converted from NIfTI (research archives such as ACDC) carry axis-aligned geometry.
     * @defaultValue 'prefer-short-axis'
     */
    orientation: z.enum(['short-axis', 'prefer-short-axis', 'any']).default('prefer-short-axis'),
    /** A normal within this angle (degrees) of a patient axis counts as an axial/coronal/sagittal plane. @defaultValue 10 */
    maxAxisAlignmentDeg: z.number().min(0).max(45).default(10),
    /** Largest angle (degrees) between slice normals within one stack. @defaultValue 2 */
    orientationToleranceDeg: z.number().min(0).max(20).default(2),
    /** Fewest phases (time points) a cine stack must have. @defaultValue 2 */
    minPhases: z.number().int().min(1).default(2),
    /** Fewest slices a stack must have. @defaultValue 3 */
    minSlices: z.number().int().min(2).default(3),
    /** Trigger times closer than this (ms) belong to the same phase. @defaultValue 5 */
    triggerTimeToleranceMs: z.number().min(0).default(5),
    /** Slice positions closer than this (mm) along the normal are the same slice. @defaultValue 0.5 */
    slicePositionToleranceMm: z.number().positive().default(0.5),
  })
  .strict();

export type SeriesSelectionRules = z.infer<typeof SeriesSelectionRulesSchema>;
export type SeriesSelectionRulesInput = z.input<typeof SeriesSelectionRulesSchema>;

/** The defaults, validated. */
export const defaultSeriesSelectionRules: SeriesSelectionRules = SeriesSelectionRulesSchema.parse({});

/** Validates partial rules over the defaults; throws a ZodError naming the bad field. */
export function parseSeriesSelectionRules(input: unknown = {}): SeriesSelectionRules {
  return SeriesSelectionRulesSchema.parse(input ?? {});
}

/** What the metadata rules look at: from the instances' headers (reader) or from Orthanc's index (router). */
export interface SeriesMetadata {
  readonly modality: string;
  /** SOP Class UIDs of the series' instances (the router knows only the first one's). */
  readonly sopClassUIDs: readonly string[];
  readonly seriesDescription: string;
}

/** The metadata rules (modality, SOP class, description): why the series is rejected, or undefined when it passes. */
export function seriesMetadataRejection(series: SeriesMetadata, rules: SeriesSelectionRules): string | undefined {
  const modality = series.modality;
  if (!rules.modalities.some((m) => m.toUpperCase() === modality.toUpperCase())) return `Modality ${modality || '(none)'} is not one of ${rules.modalities.join(', ')}`;
  const foreign = series.sopClassUIDs.find((c) => !rules.sopClassUIDs.includes(c));
  if (foreign !== undefined) return `SOPClassUID ${foreign} is not an accepted image class`;
  const description = series.seriesDescription;
  if (rules.seriesDescriptionInclude.length > 0 && !rules.seriesDescriptionInclude.some((p) => new RegExp(p, 'iu').test(description))) {
    return `SeriesDescription "${description}" matches no include pattern`;
  }
  const excluded = rules.seriesDescriptionExclude.find((p) => new RegExp(p, 'iu').test(description));
  if (excluded !== undefined) return `SeriesDescription "${description}" matches exclude pattern /${excluded}/`;
  return undefined;
}
