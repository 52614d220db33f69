/**
 * Small typed builders for SR content items (naturalized dcmjs data sets). dcmjs's own SR helpers
 * cannot reference SEG segments (FIELD-NOTES), so the whole tree is built from these.
 */
import { codeItem, type CodedConcept } from '../codes.js';
import type { ContinuityOfContentValues, RelationshipTypeValues } from './enums.js';

/** A naturalized content item (one ContentSequence item). */
export type ContentItem = Readonly<Record<string, unknown>>;

function base(relationship: RelationshipTypeValues, valueType: string, name: CodedConcept | undefined): Record<string, unknown> {
  return {
    RelationshipType: relationship,
    ValueType: valueType,
    ...(name ? { ConceptNameCodeSequence: [codeItem(name)] } : {}),
  };
}

function withChildren(item: Record<string, unknown>, children: readonly ContentItem[] | undefined): ContentItem {
  if (children && children.length > 0) item.ContentSequence = [...children];
  return item;
}

export function containerItem(
  relationship: RelationshipTypeValues,
  name: CodedConcept,
  children: readonly ContentItem[],
  options: { continuity?: ContinuityOfContentValues; template?: string } = {},
): ContentItem {
  const item = base(relationship, 'CONTAINER', name);
  item.ContinuityOfContent = options.continuity ?? 'SEPARATE';
  if (options.template) item.ContentTemplateSequence = [{ MappingResource: 'DCMR', TemplateIdentifier: options.template }];
  return withChildren(item, children);
}

export function codeContentItem(relationship: RelationshipTypeValues, name: CodedConcept, value: CodedConcept, children?: readonly ContentItem[]): ContentItem {
  const item = base(relationship, 'CODE', name);
  item.ConceptCodeSequence = [codeItem(value)];
  return withChildren(item, children);
}

export function textItem(relationship: RelationshipTypeValues, name: CodedConcept, value: string, children?: readonly ContentItem[]): ContentItem {
  if (value.length === 0) throw new TypeError(`TEXT ${name.meaning} must not be empty`);
  const item = base(relationship, 'TEXT', name);
  item.TextValue = value;
  return withChildren(item, children);
}

export function uidrefItem(relationship: RelationshipTypeValues, name: CodedConcept, uid: string): ContentItem {
  const item = base(relationship, 'UIDREF', name);
  item.UID = uid;
  return item;
}

export function numItem(relationship: RelationshipTypeValues, name: CodedConcept, value: number, unit: CodedConcept, children?: readonly ContentItem[]): ContentItem {
  if (!Number.isFinite(value)) throw new TypeError(`NUM ${name.meaning} must be a finite number, got ${value}`);
  const item = base(relationship, 'NUM', name);
  // String(value) is the shortest exact decimal (what result.json holds); DS allows 16 characters.
  const text = String(value);
  item.MeasuredValueSequence = [{ NumericValue: text.length <= 16 ? text : Number(value.toPrecision(12)), MeasurementUnitsCodeSequence: [codeItem(unit)] }];
  return withChildren(item, children);
}

export interface ImageReference {
  readonly sopClassUID: string;
  readonly sopInstanceUID: string;
  readonly frameNumbers?: readonly number[];
  /** For a reference into a SEG: the segment(s). */
  readonly segmentNumbers?: readonly number[];
}

export function imageItem(relationship: RelationshipTypeValues, name: CodedConcept | undefined, reference: ImageReference): ContentItem {
  const item = base(relationship, 'IMAGE', name);
  item.ReferencedSOPSequence = [
    {
      ReferencedSOPClassUID: reference.sopClassUID,
      ReferencedSOPInstanceUID: reference.sopInstanceUID,
      ...(reference.frameNumbers && reference.frameNumbers.length > 0 ? { ReferencedFrameNumber: [...reference.frameNumbers] } : {}),
      ...(reference.segmentNumbers && reference.segmentNumbers.length > 0 ? { ReferencedSegmentNumber: [...reference.segmentNumbers] } : {}),
    },
  ];
  return item;
}
