/**
 * 1-bit pixel packing for BINARY segmentations (PS3.5 8.1.1): pixel i of the concatenated frames
 * lands in bit (i mod 8) of byte floor(i / 8), least significant bit first. Frames follow one
 * another bit-continuously: a frame whose pixel count is not a multiple of 8 is NOT padded, so the
 * next frame starts mid-byte. Only the end of the whole value is padded (to an even length).
 */

/** Packs frames of 0/non-zero pixels; every frame must have `pixelsPerFrame` pixels. */
export function packBits(frames: ReadonlyArray<Uint8Array>, pixelsPerFrame: number): Uint8Array {
  if (!Number.isInteger(pixelsPerFrame) || pixelsPerFrame <= 0) throw new RangeError(`pixelsPerFrame must be a positive integer, got ${pixelsPerFrame}`);
  const totalBits = frames.length * pixelsPerFrame;
  const byteLength = Math.ceil(totalBits / 8);
  const out = new Uint8Array(byteLength + (byteLength % 2)); // even value length (PS3.5 7.1.1)
  let bit = 0;
  for (let f = 0; f < frames.length; f++) {
    const frame = frames[f]!;
    if (frame.length !== pixelsPerFrame) throw new RangeError(`frame ${f} has ${frame.length} pixels, expected ${pixelsPerFrame}`);
    for (let i = 0; i < pixelsPerFrame; i++, bit++) {
      if (frame[i] !== 0) out[bit >> 3] = out[bit >> 3]! | (1 << (bit & 7));
    }
  }
  return out;
}

/** Inverse of packBits: `frameCount` frames of 0/1 pixels. */
export function unpackBits(packed: Uint8Array, frameCount: number, pixelsPerFrame: number): Uint8Array[] {
  const needed = Math.ceil((frameCount * pixelsPerFrame) / 8);
  if (packed.length < needed) throw new RangeError(`packed data has ${packed.length} bytes, ${needed} needed for ${frameCount} frames of ${pixelsPerFrame} pixels`);
  const frames: Uint8Array[] = [];
  let bit = 0;
  for (let f = 0; f < frameCount; f++) {
    const frame = new Uint8Array(pixelsPerFrame);
    for (let i = 0; i < pixelsPerFrame; i++, bit++) frame[i] = (packed[bit >> 3]! >> (bit & 7)) & 1;
    frames.push(frame);
  }
  return frames;
}
