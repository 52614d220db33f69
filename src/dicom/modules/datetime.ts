/** DICOM DA/TM/DT strings, in UTC so that the same instant always gives the same bytes. */
const pad = (n: number, width = 2): string => String(n).padStart(width, '0');

export function dicomDate(at: Date): string {
  return `${at.getUTCFullYear()}${pad(at.getUTCMonth() + 1)}${pad(at.getUTCDate())}`;
}

export function dicomTime(at: Date): string {
  return `${pad(at.getUTCHours())}${pad(at.getUTCMinutes())}${pad(at.getUTCSeconds())}`;
}

export function checkDate(at: Date | undefined, argument: string): Date {
  const value = at ?? new Date();
  if (!(value instanceof Date) || Number.isNaN(value.getTime())) throw new TypeError(`${argument} must be a valid Date`);
  return value;
}
