/**
 * The human-readable report as a PDF (pdf-lib, DejaVu Sans embedded from the npm package): for PACS
 * that show neither SEG nor SR. ONE source: the study result (result.json). Every number printed is a
 * value of the result (measurements, reference-range limits, probabilities, phases) written with the
 * same formatting as result.json's rounding, so a `pdftotext` of the page can be checked against
 * result.json number by number (test/pdf-report.test.ts).
 *
 * Content: the "automated, needs review" statement first; model and calibration; quality control
 * (when the result has it: a failed study states no findings); the measurement table with reference
 * range, whose range, and flag; the diagnosis with its probability; the narrative; key images (ED and
 * ES mid-ventricular slice with contours, drawn by the overlay renderer); the sources of the ranges.
 */
import fontkit from '@pdf-lib/fontkit';
import { PDFDocument, rgb, type PDFFont, type PDFPage } from 'pdf-lib';
import type { StudyResult } from '../../core/result.js';
import { formatMeasurement, PROBABILITY_DECIMALS } from '../../analysis/conventions.js';
import { modelLabel } from '../../core/model-identity.js';
import { INDEXED_ITEMS } from '../../analysis/narrative.js';
import type { RgbImage } from '../overlay/raster.js';
import { encodePng } from '../overlay/png.js';

export const REPORT_TITLE = 'PULSE automated cardiac MR report';
export const REVIEW_BANNER = 'AUTOMATED RESULT - NOT REVIEWED. Decision support only: must be reviewed and confirmed by a qualified physician before clinical use.';

/** The rows of the measurement table, in report order, with the label printed (the test reads lines by these labels). */
export const REPORT_ROWS: ReadonlyArray<{ readonly key: string; readonly label: string; readonly unit: string }> = [
  { key: 'lvedv_ml', label: 'LV end-diastolic volume', unit: 'ml' },
  { key: 'lvesv_ml', label: 'LV end-systolic volume', unit: 'ml' },
  { key: 'lvsv_ml', label: 'LV stroke volume', unit: 'ml' },
  { key: 'lvef_pct', label: 'LV ejection fraction', unit: '%' },
  { key: 'lv_mass_g', label: 'LV mass', unit: 'g' },
  { key: 'lv_max_wall_thickness_mm', label: 'LV maximal ED wall thickness', unit: 'mm' },
  { key: 'rvedv_ml', label: 'RV end-diastolic volume', unit: 'ml' },
  { key: 'rvesv_ml', label: 'RV end-systolic volume', unit: 'ml' },
  { key: 'rvef_pct', label: 'RV ejection fraction', unit: '%' },
  ...INDEXED_ITEMS,
  { key: 'bsa_m2', label: 'Body-surface area (Mosteller)', unit: 'm²' },
];

/** Quality control as issue 11 adds it to the result (read structurally: absent in older results). */
export interface ResultQc {
  readonly status: 'pass' | 'review' | 'fail';
  readonly reasons?: readonly string[];
}

export function resultQc(result: StudyResult): ResultQc | undefined {
  const qc = (result as { qc?: unknown }).qc;
  if (!qc || typeof qc !== 'object') return undefined;
  const status = (qc as { status?: unknown }).status;
  if (status !== 'pass' && status !== 'review' && status !== 'fail') return undefined;
  const reasons = (qc as { reasons?: unknown }).reasons;
  return { status, ...(Array.isArray(reasons) ? { reasons: reasons.filter((r): r is string => typeof r === 'string') } : {}) };
}

export interface KeyImage {
  /** Caption without digits ("End-diastole, mid-ventricular slice"). */
  readonly caption: string;
  readonly image: RgbImage;
}

export interface ReportDocumentInput {
  readonly result: StudyResult;
  /** Diagnosis groups (manifest): name and description, to name the label in words. */
  readonly groups: ReadonlyArray<{ readonly name: string; readonly description: string }>;
  readonly keyImages?: readonly KeyImage[];
  /** Regular and bold TrueType font bytes (fonts.ts loads DejaVu Sans from its npm package). */
  readonly fonts: { readonly regular: Uint8Array; readonly bold: Uint8Array };
  /** PDF creation date (pass it for byte-stable output). @defaultValue now */
  readonly createdAt?: Date;
}

const A4 = { width: 595.28, height: 841.89 };
const MARGIN = 40;
const BODY = 9;
const LINE = 12;

/** Greedy word wrap to a width in points. */
export function wrapText(text: string, font: PDFFont, size: number, width: number): string[] {
  const lines: string[] = [];
  for (const paragraph of text.split('\n')) {
    let line = '';
    for (const word of paragraph.split(/\s+/).filter((w) => w.length > 0)) {
      const candidate = line ? `${line} ${word}` : word;
      if (line && font.widthOfTextAtSize(candidate, size) > width) {
        lines.push(line);
        line = word;
      } else {
        line = candidate;
      }
    }
    lines.push(line);
  }
  return lines;
}

function formatLimit(key: string, value: number | undefined): string {
  return value === undefined ? '' : formatMeasurement(key, value);
}

/** "86.0 - 178.0", "<= 14.9", ">= 57.0" (limits as result.json holds them). */
export function rangeText(key: string, low: number | undefined, high: number | undefined): string {
  if (low !== undefined && high !== undefined) return `${formatLimit(key, low)} - ${formatLimit(key, high)}`;
  if (high !== undefined) return `<= ${formatLimit(key, high)}`;
  if (low !== undefined) return `>= ${formatLimit(key, low)}`;
  return '';
}

class Writer {
  page: PDFPage;
  y: number;
  constructor(
    private readonly doc: PDFDocument,
    readonly regular: PDFFont,
    readonly bold: PDFFont,
  ) {
    this.page = doc.addPage([A4.width, A4.height]);
    this.y = A4.height - MARGIN;
  }
  get width(): number {
    return A4.width - 2 * MARGIN;
  }
  ensure(height: number): void {
    if (this.y - height < MARGIN) {
      this.page = this.doc.addPage([A4.width, A4.height]);
      this.y = A4.height - MARGIN;
    }
  }
  text(text: string, options: { size?: number; bold?: boolean; x?: number; color?: [number, number, number] } = {}): void {
    const size = options.size ?? BODY;
    this.ensure(size + 3);
    this.y -= size + 3;
    this.page.drawText(text, { x: MARGIN + (options.x ?? 0), y: this.y, size, font: options.bold ? this.bold : this.regular, color: rgb(...(options.color ?? [0, 0, 0])) });
  }
  paragraph(text: string, options: { size?: number; bold?: boolean; color?: [number, number, number] } = {}): void {
    const size = options.size ?? BODY;
    for (const line of wrapText(text, options.bold ? this.bold : this.regular, size, this.width)) this.text(line, options);
  }
  heading(text: string): void {
    this.gap(6);
    this.text(text, { size: 11, bold: true });
    this.gap(2);
  }
  gap(points: number): void {
    this.y -= points;
  }
  /** One table row: cells at the given x offsets, on one baseline (pdftotext -layout keeps it one line). */
  row(cells: readonly string[], columns: readonly number[], bold = false, color?: [number, number, number]): void {
    this.ensure(LINE);
    this.y -= LINE;
    cells.forEach((cell, i) => {
      if (cell) this.page.drawText(cell, { x: MARGIN + columns[i]!, y: this.y, size: BODY, font: bold ? this.bold : this.regular, color: rgb(...(color ?? [0, 0, 0])) });
    });
  }
}

const FLAG_COLOURS: Record<string, [number, number, number]> = { HIGH: [0.7, 0.1, 0.1], LOW: [0.1, 0.2, 0.7], NORMAL: [0, 0, 0] };

function rangeWho(sex: 'M' | 'F' | 'any', fallback: boolean): string {
  return sex === 'M' ? 'men' : sex === 'F' ? 'women' : fallback ? 'either sex' : 'adults';
}

/** The report PDF's bytes. */
export async function buildReportPdf(input: ReportDocumentInput): Promise<Uint8Array> {
  const { result } = input;
  if (!result) throw new TypeError('result is required');
  if (!input.fonts?.regular?.length || !input.fonts?.bold?.length) throw new TypeError('fonts.regular and fonts.bold are required (TrueType bytes)');
  const createdAt = input.createdAt ?? new Date();
  const doc = await PDFDocument.create();
  doc.registerFontkit(fontkit);
  const regular = await doc.embedFont(input.fonts.regular, { subset: true });
  const bold = await doc.embedFont(input.fonts.bold, { subset: true });
  doc.setTitle(REPORT_TITLE);
  doc.setSubject('Automated cardiac MR measurements and classification (not reviewed)');
  doc.setProducer('PULSE for Orthanc (pdf-lib)');
  doc.setCreator(modelLabel(result.model));
  doc.setCreationDate(createdAt);
  doc.setModificationDate(createdAt);
  const w = new Writer(doc, regular, bold);
  const qc = resultQc(result);
  const failed = qc?.status === 'fail';

  w.text(REPORT_TITLE, { size: 16, bold: true });
  w.gap(4);
  w.paragraph(REVIEW_BANNER, { bold: true, color: [0.75, 0.35, 0] });
  w.gap(4);
  w.text(`Model: ${result.model.name} version ${result.model.version}`);
  w.text(`Site calibration: ${result.model.calibration ?? 'none (the model as shipped)'}`);
  w.text(`Study Instance UID: ${result.studyInstanceUID}`);
  w.paragraph(`Cine series: ${result.seriesInstanceUID} (${result.grid.slices} slices x ${result.grid.phases} phases; ED phase ${result.phases.ed}, ES phase ${result.phases.es}, counted from 0)`);
  if (qc) {
    w.heading('Quality control');
    w.text(`Status: ${qc.status.toUpperCase()}`, { bold: true, color: qc.status === 'pass' ? [0, 0.4, 0] : qc.status === 'review' ? [0.75, 0.35, 0] : [0.7, 0.1, 0.1] });
    for (const reason of qc.reasons ?? []) w.paragraph(`- ${reason}`);
  }
  if (failed) {
    w.heading('Findings');
    w.paragraph('Quality control failed: this study states no findings, measurements or classification. The images must be assessed without this automated result.', { bold: true });
    return doc.save({ useObjectStreams: false });
  }

  w.heading('Measurements');
  const columns = [0, 170, 235, 285, 375, 445];
  w.row(['Measurement', 'Value', 'Unit', 'Reference range', 'Range for', 'Flag'], columns, true);
  for (const row of REPORT_ROWS) {
    const value = result.measurements[row.key];
    if (value === undefined) continue;
    const range = result.reference_ranges?.[row.key];
    const cells = [
      row.label,
      formatMeasurement(row.key, value),
      row.unit,
      range ? rangeText(row.key, range.low, range.high) : 'no range',
      range ? rangeWho(range.sex, range.sex_neutral_fallback) : '',
      range ? range.flag : '',
    ];
    w.row(cells, columns, false, range && range.flag !== 'NORMAL' ? FLAG_COLOURS[range.flag] : undefined);
  }
  if (result.wall_thickness?.segment_name) w.paragraph(`Maximal wall thickness lies in the ${result.wall_thickness.segment_name} segment (AHA model).`);
  if (result.reference_population) w.paragraph(result.reference_population.note);

  w.heading('Automated classification');
  const label = result.diagnosis.label;
  const description = input.groups.find((g) => g.name === label)?.description;
  const probability = result.diagnosis.probabilities[label];
  w.paragraph(`Most probable group: ${label}${description ? ` (${description.replace(/\.$/, '')})` : ''}, probability ${probability === undefined ? 'unknown' : probability.toFixed(PROBABILITY_DECIMALS)}.`, { bold: true });
  const others = Object.entries(result.diagnosis.probabilities)
    .filter(([name]) => name !== label)
    .sort((a, b) => b[1] - a[1])
    .map(([name, p]) => `${name} ${p.toFixed(PROBABILITY_DECIMALS)}`);
  if (others.length > 0) w.paragraph(`Other groups: ${others.join(', ')}.`);

  w.heading('Report text');
  w.paragraph(result.narrative);

  if (input.keyImages && input.keyImages.length > 0) {
    w.heading('Key images (automated contours)');
    const gap = 10;
    const boxWidth = (w.width - gap * (input.keyImages.length - 1)) / input.keyImages.length;
    const embedded = await Promise.all(input.keyImages.map((k) => doc.embedPng(encodePng(k.image))));
    const scale = Math.min(...embedded.map((e) => Math.min(boxWidth / e.width, 260 / e.height)));
    const height = Math.max(...embedded.map((e) => e.height * scale));
    w.ensure(height + 20);
    embedded.forEach((image, i) => {
      w.page.drawImage(image, { x: MARGIN + i * (boxWidth + gap), y: w.y - height, width: image.width * scale, height: image.height * scale });
      w.page.drawText(input.keyImages![i]!.caption, { x: MARGIN + i * (boxWidth + gap), y: w.y - height - 11, size: 8, font: regular });
    });
    w.gap(height + 14);
  }

  w.heading('Reference range sources');
  const sources = [...new Set(Object.values(result.reference_ranges ?? {}).map((r) => `${r.source} [checked: ${r.checked}]`))];
  for (const source of sources) w.paragraph(`- ${source}`, { size: 8 });
  w.gap(4);
  w.paragraph(REVIEW_BANNER, { bold: true, color: [0.75, 0.35, 0] });
  return doc.save({ useObjectStreams: false });
}
