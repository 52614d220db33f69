/** Equipment and provenance: who made the object (this software) and with which algorithm. */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROCESSING_EQUIPMENT, codeItem } from '../codes.js';
import { deterministicUid } from '../uid.js';
import { modelLabel, type ModelIdentity } from '../../core/model-identity.js';


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

/**
 * DeviceUID / Device Observer UID of the algorithm: changes whenever the model, its version or the
 * site calibration changes (IHE AI Results), and only then.
 */
export function algorithmDeviceUid(algorithm: ModelIdentity): string {
  return deterministicUid('pulse-algorithm-device', algorithm.name, algorithm.version, algorithm.calibration ?? 'uncalibrated');
}

/** Checks the algorithm identification; messages name the argument. */
export function checkAlgorithm(algorithm: ModelIdentity | undefined, argument = 'algorithm'): ModelIdentity {
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
export function contributingEquipment(algorithm: ModelIdentity): Record<string, unknown> {
  return {
    ContributingEquipmentSequence: [
      {
        PurposeOfReferenceCodeSequence: [codeItem(PROCESSING_EQUIPMENT)],
        Manufacturer: MANUFACTURER,
        ManufacturerModelName: algorithm.name,
        SoftwareVersions: algorithm.calibration ? [algorithm.version, algorithm.calibration] : algorithm.version,
        DeviceUID: algorithmDeviceUid(algorithm),
        ContributionDescription: `Automated inference by ${modelLabel(algorithm)}`.slice(0, 64),
      },
    ],
  };
}
