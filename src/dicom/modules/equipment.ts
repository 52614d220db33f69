/** Equipment and provenance: who made the object (this software) and with which algorithm. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROCESSING_EQUIPMENT, codeItem } from '../codes.js';
import { deterministicUid } from '../uid.js';

/** The model that produced a result: manifest name and version, plus the site calibration. */
export interface AlgorithmIdentification {
  /** Model name from the manifest ('pulse-lite'). */
  readonly name: string;
  /** Model version from the manifest (semantic version). */
  readonly version: string;
  /** Site calibration id, or null for the bare model. */
  readonly calibration: string | null;
}

export const MANUFACTURER = 'PULSE for Orthanc';
export const MANUFACTURER_MODEL_NAME = 'PULSE for Orthanc';

function findPackageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      const parsed = JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string; version?: string };
      if (parsed.name === 'pulse-for-orthanc' && parsed.version) return parsed.version;
    }
    const parent = dirname(dir);
    if (parent === dir) return '0.0.0';
    dir = parent;
  }
}

/** This software's version (package.json), written in SoftwareVersions. */
export const SOFTWARE_VERSION = findPackageVersion();

/** The algorithm as one string: 'pulse-lite 1.2.0' or 'pulse-lite 1.2.0 (calibration site-a-3)'. */
export function algorithmLabel(algorithm: AlgorithmIdentification): string {
  return algorithm.calibration ? `${algorithm.name} ${algorithm.version} (calibration ${algorithm.calibration})` : `${algorithm.name} ${algorithm.version}`;
}

/**
 * DeviceUID / Device Observer UID of the algorithm: changes whenever the model, its version or the
 * site calibration changes (IHE AI Results), and only then.
 */
export function algorithmDeviceUid(algorithm: AlgorithmIdentification): string {
  return deterministicUid('pulse-algorithm-device', algorithm.name, algorithm.version, algorithm.calibration ?? 'uncalibrated');
}

/** Checks the algorithm identification; messages name the argument. */
export function checkAlgorithm(algorithm: AlgorithmIdentification | undefined, argument = 'algorithm'): AlgorithmIdentification {
  if (!algorithm) throw new TypeError(`${argument} is required`);
  if (!algorithm.name?.trim()) throw new TypeError(`${argument}.name must not be empty`);
  if (!algorithm.version?.trim()) throw new TypeError(`${argument}.version must not be empty`);
  if (algorithm.calibration !== null && typeof algorithm.calibration !== 'string') throw new TypeError(`${argument}.calibration must be a string or null`);
  return algorithm;
}

/** General / Enhanced General Equipment attributes of an object this software writes. */
export function equipmentAttributes(): Record<string, unknown> {
  return {
    Manufacturer: MANUFACTURER,
    ManufacturerModelName: MANUFACTURER_MODEL_NAME,
    DeviceSerialNumber: '1',
    SoftwareVersions: SOFTWARE_VERSION,
  };
}

/** ContributingEquipmentSequence naming the algorithm (manufacturer, model name, version, DeviceUID). */
export function contributingEquipment(algorithm: AlgorithmIdentification): Record<string, unknown> {
  return {
    ContributingEquipmentSequence: [
      {
        PurposeOfReferenceCodeSequence: [codeItem(PROCESSING_EQUIPMENT)],
        Manufacturer: MANUFACTURER,
        ManufacturerModelName: algorithm.name,
        SoftwareVersions: algorithm.calibration ? [algorithm.version, algorithm.calibration] : algorithm.version,
        DeviceUID: algorithmDeviceUid(algorithm),
        ContributionDescription: `Automated inference by ${algorithmLabel(algorithm)}`.slice(0, 64),
      },
    ],
  };
}
