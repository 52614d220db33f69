/**
 * In-plane resampling between a source image grid and the model grid, both centred on the image
 * centre and aligned with the image's own row and column axes. Working in the image's index space
 * makes orientation irrelevant here: an oblique plane is resampled exactly like an axial one, and
 * the label maps land back on the source pixels with no interpolation across planes.
 *
 * Bilinear interpolation is separable, so each direction gets a precomputed table (index + weight);
 * the per-pixel loops then only read typed arrays (no allocation, no trigonometry).
 */

/**
 * For each target sample: `index[t]` is the lower source sample, `weight[t]` the weight of
 * `index[t] + 1` (value = (1 - w)·s[i] + w·s[i + 1]); `index[t] = -1` means outside the source.
 */
export interface AxisTable {
  readonly index: Int32Array;
  readonly weight: Float32Array;
  /** First and last target samples that lie inside the source (inclusive); first > last when none. */
  readonly first: number;
  readonly last: number;
}

/**
 * Maps `targetCount` samples at `targetSpacing` onto `sourceCount` samples at `sourceSpacing`, the
 * two grids sharing their centre. A target sample is inside when it falls within the source
 * pixels' footprint (half a pixel beyond the outer sample centres, where the edge value is held).
 * With `shift` (source samples), the target grid's centre lies that far from the source centre.
 */
export function axisTable(targetCount: number, targetSpacing: number, sourceCount: number, sourceSpacing: number, shift = 0): AxisTable {
  const index = new Int32Array(targetCount);
  const weight = new Float32Array(targetCount);
  const scale = targetSpacing / sourceSpacing;
  const targetCentre = (targetCount - 1) / 2;
  const sourceCentre = (sourceCount - 1) / 2;
  let first = targetCount;
  let last = -1;
  for (let t = 0; t < targetCount; t++) {
    // `shift`: where the target centre lies in the source, in source samples from the source centre.
    const x = sourceCentre + shift + (t - targetCentre) * scale;
    if (x < -0.5 || x > sourceCount - 0.5 || sourceCount < 1) {
      index[t] = -1;
      continue;
    }
    if (sourceCount === 1) {
      index[t] = 0;
      weight[t] = 0;
    } else {
      const clamped = Math.min(Math.max(x, 0), sourceCount - 1);
      const i = Math.min(Math.floor(clamped), sourceCount - 2);
      index[t] = i;
      weight[t] = clamped - i;
    }
    if (t < first) first = t;
    last = t;
  }
  return { index, weight, first, last };
}

/** Source (rows x columns) <-> model (rows x columns) tables in both directions for one image geometry. */
export interface GridMapping {
  readonly sourceRows: number;
  readonly sourceColumns: number;
  readonly modelRows: number;
  readonly modelColumns: number;
  /** Model rows/columns sampled from the source. */
  readonly toModelRows: AxisTable;
  readonly toModelColumns: AxisTable;
  /** Source rows/columns sampled from the model. */
  readonly toSourceRows: AxisTable;
  readonly toSourceColumns: AxisTable;
}

const mappingCache = new Map<string, GridMapping>();

/**
 * The mapping for one geometry. `sourceSpacing` and `modelSpacing` are [row spacing, column spacing]
 * in mm, as DICOM PixelSpacing orders them; `centre` is where the model window is centred, in source
 * pixels (rows, columns) from the image centre (the heart, once located). Cached: a stack shares one
 * geometry across its images.
 */
export function gridMapping(
  sourceRows: number,
  sourceColumns: number,
  sourceSpacing: readonly [number, number],
  modelRows: number,
  modelColumns: number,
  modelSpacing: readonly [number, number],
  centre: readonly [number, number] = [0, 0],
): GridMapping {
  const key = [sourceRows, sourceColumns, sourceSpacing[0], sourceSpacing[1], modelRows, modelColumns, modelSpacing[0], modelSpacing[1], centre[0], centre[1]].join(',');
  let mapping = mappingCache.get(key);
  if (!mapping) {
    mapping = {
      sourceRows,
      sourceColumns,
      modelRows,
      modelColumns,
      // The model window is centred `centre` source pixels (rows, columns) from the image centre.
      toModelRows: axisTable(modelRows, modelSpacing[0], sourceRows, sourceSpacing[0], centre[0]),
      toModelColumns: axisTable(modelColumns, modelSpacing[1], sourceColumns, sourceSpacing[1], centre[1]),
      toSourceRows: axisTable(sourceRows, sourceSpacing[0], modelRows, modelSpacing[0], (-centre[0] * sourceSpacing[0]) / modelSpacing[0]),
      toSourceColumns: axisTable(sourceColumns, sourceSpacing[1], modelColumns, modelSpacing[1], (-centre[1] * sourceSpacing[1]) / modelSpacing[1]),
    };
    if (mappingCache.size > 64) mappingCache.clear();
    mappingCache.set(key, mapping);
  }
  return mapping;
}

/**
 * Bilinear resampling of one plane through a pair of tables: `out` (rowsT.index.length x
 * colsT.index.length) receives `fill` outside the source. `src` is row-major with `srcColumns` columns.
 * When `range` is given it receives the minimum and maximum written (saves the caller a pass).
 */
export function resamplePlane(
  src: ArrayLike<number>,
  srcColumns: number,
  rowsT: AxisTable,
  colsT: AxisTable,
  out: Float32Array,
  fill = 0,
  range?: Float64Array,
): void {
  let min = Infinity;
  let max = -Infinity;
  const outColumns = colsT.index.length;
  const outRows = rowsT.index.length;
  const ci = colsT.index;
  const cw = colsT.weight;
  const oneColumn = srcColumns === 1;
  for (let r = 0; r < outRows; r++) {
    const base = r * outColumns;
    const i = rowsT.index[r]!;
    if (i < 0) {
      out.fill(fill, base, base + outColumns);
      continue;
    }
    const wr = rowsT.weight[r]!;
    const row0 = i * srcColumns;
    const row1 = wr > 0 ? row0 + srcColumns : row0;
    for (let c = 0; c < outColumns; c++) {
      const j = ci[c]!;
      if (j < 0) {
        out[base + c] = fill;
        continue;
      }
      const wc = cw[c]!;
      const j1 = oneColumn ? j : j + 1;
      const top = src[row0 + j]! + wc * (src[row0 + j1]! - src[row0 + j]!);
      const bottom = src[row1 + j]! + wc * (src[row1 + j1]! - src[row1 + j]!);
      const v = top + wr * (bottom - top);
      out[base + c] = v;
      if (v < min) min = v;
      if (v > max) max = v;
    }
  }
  if (range) {
    // The fill value counts when any sample fell outside the source.
    const outside = rowsT.first > 0 || rowsT.last < rowsT.index.length - 1 || colsT.first > 0 || colsT.last < outColumns - 1 || rowsT.first > rowsT.last || colsT.first > colsT.last;
    if (outside) {
      if (fill < min) min = fill;
      if (fill > max) max = fill;
    }
    // Float32 storage may round the extremes: take them as stored.
    range[0] = Math.fround(min);
    range[1] = Math.fround(max);
  }
}
