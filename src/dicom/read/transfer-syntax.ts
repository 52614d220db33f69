/** Transfer syntaxes the reader knows, and how each one's pixel data is decoded here. */

export const TransferSyntax = {
  ImplicitVRLittleEndian: '1.2.840.10008.1.2',
  ExplicitVRLittleEndian: '1.2.840.10008.1.2.1',
  DeflatedExplicitVRLittleEndian: '1.2.840.10008.1.2.1.99',
  ExplicitVRBigEndian: '1.2.840.10008.1.2.2',
  JPEGBaseline8Bit: '1.2.840.10008.1.2.4.50',
  JPEGExtended12Bit: '1.2.840.10008.1.2.4.51',
  JPEGLossless: '1.2.840.10008.1.2.4.57',
  JPEGLosslessSV1: '1.2.840.10008.1.2.4.70',
  JPEGLSLossless: '1.2.840.10008.1.2.4.80',
  JPEGLSNearLossless: '1.2.840.10008.1.2.4.81',
  JPEG2000Lossless: '1.2.840.10008.1.2.4.90',
  JPEG2000: '1.2.840.10008.1.2.4.91',
  HTJ2KLossless: '1.2.840.10008.1.2.4.201',
  HTJ2KLosslessRPCL: '1.2.840.10008.1.2.4.202',
  HTJ2K: '1.2.840.10008.1.2.4.203',
  RLELossless: '1.2.840.10008.1.2.5',
} as const;

/** How pixel data of a transfer syntax is stored and which decoder reads it. */
export type PixelEncoding = 'native' | 'rle' | 'jpeg-baseline' | 'jpeg-lossless' | 'jpeg-ls' | 'jpeg-2000';

const ENCODINGS: Readonly<Record<string, PixelEncoding>> = {
  [TransferSyntax.ImplicitVRLittleEndian]: 'native',
  [TransferSyntax.ExplicitVRLittleEndian]: 'native',
  [TransferSyntax.DeflatedExplicitVRLittleEndian]: 'native',
  [TransferSyntax.ExplicitVRBigEndian]: 'native',
  [TransferSyntax.JPEGBaseline8Bit]: 'jpeg-baseline',
  // libjpeg-turbo 8-bit reads Process 2/4 only when the data are 8-bit; 12-bit streams fail with a clear error.
  [TransferSyntax.JPEGExtended12Bit]: 'jpeg-baseline',
  [TransferSyntax.JPEGLossless]: 'jpeg-lossless',
  [TransferSyntax.JPEGLosslessSV1]: 'jpeg-lossless',
  [TransferSyntax.JPEGLSLossless]: 'jpeg-ls',
  [TransferSyntax.JPEGLSNearLossless]: 'jpeg-ls',
  [TransferSyntax.JPEG2000Lossless]: 'jpeg-2000',
  [TransferSyntax.JPEG2000]: 'jpeg-2000',
  // HTJ2K is left out on purpose: untested with the installed OpenJPEG build, so it is reported as
  // unsupported (and transcoded upstream) rather than risk a wrong decode.
  [TransferSyntax.RLELossless]: 'rle',
};

/** The decoder for a transfer syntax, or undefined when this reader cannot decode it. */
export function pixelEncodingOf(transferSyntaxUID: string): PixelEncoding | undefined {
  return ENCODINGS[transferSyntaxUID];
}

export function isBigEndian(transferSyntaxUID: string): boolean {
  return transferSyntaxUID === TransferSyntax.ExplicitVRBigEndian;
}
