import { existsSync } from 'node:fs';

/** Where Debian's Chromium lives (`apt-get install -y chromium`; `.ci/run` and `./pnpmw test` install it). */
export const CHROMIUM_EXECUTABLE = '/usr/bin/chromium';

/**
 * Launch options for the system Chromium, headless, for `playwright-core`'s `chromium.launch()`. The
 * background-networking flags keep it from reaching out to the network on start.
 */
export const CHROMIUM_LAUNCH_OPTIONS: { readonly executablePath: string; readonly args: readonly string[] } =
  Object.freeze({
    executablePath: CHROMIUM_EXECUTABLE,
    args: Object.freeze([
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ]),
  });

/** True when the system Chromium is installed. */
export function hasChromium(): boolean {
  return existsSync(CHROMIUM_EXECUTABLE);
}
