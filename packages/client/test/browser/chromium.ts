import { CHROMIUM_EXECUTABLE, CHROMIUM_LAUNCH_OPTIONS, hasChromium } from '@atmosphere/runtime/testing';
import { type Browser, chromium } from 'playwright-core';

/** Launches the system Chromium, headless, with the flags the project's CI uses. */
export async function launchChromium(): Promise<Browser> {
  if (!hasChromium()) {
    throw new Error(
      `${CHROMIUM_EXECUTABLE} is missing: install it (apt-get install -y chromium), as ./pnpmw test does.`,
    );
  }
  return chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] });
}
