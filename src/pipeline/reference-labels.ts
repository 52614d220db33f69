/**
 * A person's reference SEG laid onto the study it annotates: segments mapped to the model's
 * structures by SegmentedPropertyType code (the label text as fallback), frames to the chosen cine
 * series' images. Pure; every refusal is a ReferenceSegError naming what is wrong and the study.
 */
import { ReferenceSegError, type ReadSegment, type ReadSegmentation } from '../dicom/seg/read.js';
import type { SegmentDefinition } from '../model/manifest.js';
import type { CineStudy } from '../study/types.js';

export interface ReferenceLabels {
  /** Label map (manifest label values, source grid) per annotated SOP Instance UID (+ frame). */
  readonly labels: ReadonlyMap<string, Uint8Array>;
  /** Manifest segment key -> the SEG segment number it was read from. */
  readonly segmentMap: Readonly<Record<string, number>>;
  readonly annotatedImages: number;
  readonly annotatedPhases: readonly number[];
}

/** Key of one source image: its SOP Instance UID, plus the frame for multi-frame sources. */
export function imageKey(sopInstanceUID: string, frameNumber?: number): string {
  return frameNumber === undefined ? sopInstanceUID : `${sopInstanceUID}#${frameNumber}`;
}

/** Words that name each structure in label text (fallback when no code matches). */
const TEXT_FALLBACK: Readonly<Record<string, RegExp>> = {
  lv: /\b(left ventric\w*(?! myocard)\s*(cavity|blood pool)?|lv(\s*(cavity|blood pool|endo\w*))?)\b/i,
  myo: /\b(myocard\w*|myo|lv\s*wall)\b/i,
  rv: /\b(right ventric\w*|rv(\s*(cavity|blood pool|endo\w*))?)\b/i,
};

function matchSegment(definition: SegmentDefinition, segments: readonly ReadSegment[]): ReadSegment | undefined {
  const byCode = segments.filter((s) => s.type && s.type.value === definition.type.value && s.type.scheme.toUpperCase() === definition.type.scheme.toUpperCase());
  if (byCode.length === 1) return byCode[0];
  if (byCode.length > 1) {
    // Several segments share the code (e.g. two "Myocardium" segments): the label text decides.
    return byCode.find((s) => TEXT_FALLBACK[definition.key]?.test(`${s.label} ${s.description}`)) ?? byCode[0];
  }
  const pattern = TEXT_FALLBACK[definition.key];
  const text = (s: ReadSegment) => `${s.label} ${s.description} ${s.type?.meaning ?? ''}`;
  const byText = segments.filter((s) => text(s).toLowerCase() === definition.name.toLowerCase() || (pattern?.test(text(s)) ?? false));
  // "Left ventricle myocardium" names both lv and myo: a myocardium word decides for myo.
  if (definition.key === 'lv') return byText.find((s) => !/myocard|wall/i.test(text(s)));
  return byText[0];
}

/**
 * Maps `seg` onto `study`. Refuses a SEG of another study, one produced by an algorithm
 * (SegmentAlgorithmType AUTOMATIC: not a person's reference), one whose segments name none of the
 * model's structures, one that references no image of the chosen series, and one with nothing drawn.
 */
export function referenceLabels(study: CineStudy, seg: ReadSegmentation, segments: readonly SegmentDefinition[], where: string): ReferenceLabels {
  const studyUid = study.context.studyInstanceUID;
  if (seg.studyInstanceUID !== studyUid) {
    throw new ReferenceSegError(`${where}: the reference SEG belongs to study ${seg.studyInstanceUID}, not to this one`, studyUid);
  }
  const automatic = seg.segments.filter((s) => s.algorithmType !== 'MANUAL' && s.algorithmType !== 'SEMIAUTOMATIC');
  if (automatic.length === seg.segments.length) {
    throw new ReferenceSegError(`${where}: SegmentAlgorithmType is ${automatic[0]?.algorithmType || '(none)'}; a reference must be MANUAL or SEMIAUTOMATIC (made by a person)`, studyUid);
  }
  const segmentMap: Record<string, number> = {};
  const labelOfSegment = new Map<number, number>();
  for (const definition of segments) {
    const match = matchSegment(definition, seg.segments.filter((s) => !automatic.includes(s)));
    if (match && !labelOfSegment.has(match.segmentNumber)) {
      segmentMap[definition.key] = match.segmentNumber;
      labelOfSegment.set(match.segmentNumber, definition.labelValue);
    }
  }
  if (labelOfSegment.size === 0) {
    const names = seg.segments.map((s) => `${s.segmentNumber} '${s.label}'${s.type ? ` (${s.type.scheme} ${s.type.value})` : ''}`).join(', ');
    throw new ReferenceSegError(`${where}: no segment (${names}) maps to a model structure by SegmentedPropertyTypeCodeSequence or label`, studyUid);
  }

  const images = new Map<string, { phase: number; rows: number; columns: number }>();
  study.grid.images.forEach((row) => row.forEach((image, p) => images.set(imageKey(image.sopInstanceUID, image.frameNumber), { phase: p, rows: image.plane.rows, columns: image.plane.columns })));
  const labels = new Map<string, Uint8Array>();
  let unknown = 0;
  let drawn = 0;
  for (const frame of seg.frames) {
    const key = images.has(imageKey(frame.referencedSOPInstanceUID, frame.referencedFrameNumber)) ? imageKey(frame.referencedSOPInstanceUID, frame.referencedFrameNumber) : imageKey(frame.referencedSOPInstanceUID);
    const image = images.get(key);
    if (!image) {
      unknown++;
      continue;
    }
    if (image.rows !== seg.rows || image.columns !== seg.columns) {
      throw new ReferenceSegError(`${where}: the SEG is ${seg.rows}x${seg.columns} but its source images are ${image.rows}x${image.columns}`, studyUid);
    }
    let map = labels.get(key);
    if (!map) {
      map = new Uint8Array(seg.rows * seg.columns);
      labels.set(key, map);
    }
    const label = labelOfSegment.get(frame.segmentNumber);
    if (label === undefined) continue;
    for (let i = 0; i < map.length; i++) {
      if (frame.mask[i]) {
        map[i] = label;
        drawn++;
      }
    }
  }
  if (labels.size === 0) {
    throw new ReferenceSegError(
      `${where}: the reference SEG references none of the ${images.size} images of the chosen cine series ${study.context.seriesInstanceUID}${unknown ? ` (${unknown} frames reference other images)` : ''}`,
      studyUid,
    );
  }
  if (unknown > 0) throw new ReferenceSegError(`${where}: ${unknown} frames of the reference SEG reference images outside the chosen cine series`, studyUid);
  if (drawn === 0) throw new ReferenceSegError(`${where}: the reference SEG is empty (no pixel of any model structure)`, studyUid);
  const phases = [...new Set([...labels.keys()].map((k) => images.get(k)!.phase))].sort((a, b) => a - b);
  return { labels, segmentMap, annotatedImages: labels.size, annotatedPhases: phases };
}
