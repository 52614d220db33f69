/**
 * The browser the browser tests drive: Debian's chromium (never a downloaded build) through
 * playwright-core, headless, no sandbox (root in CI), no GPU: WebGL runs in software (SwiftShader),
 * which is enough for OHIF's viewports. One browser per test file: the machine is small.
 */
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--no-first-run'],
  });
}
