import { access } from 'node:fs/promises';
import { type Browser, chromium } from 'playwright-core';

const EXECUTABLE = '/usr/bin/chromium';

/** Waits (bounded) for Chromium to be installed — the machine may still be installing it. */
async function waitForChromium(timeoutMs = 600_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      await access(EXECUTABLE);
      return;
    } catch {
      if (Date.now() > deadline)
        throw new Error(`${EXECUTABLE} is missing: install it (apt-get install -y chromium).`);
      await new Promise((resolve) => setTimeout(resolve, 2_000));
    }
  }
}

/** Launches the system Chromium, headless, with the flags the project's CI uses. */
export async function launchChromium(): Promise<Browser> {
  await waitForChromium();
  return chromium.launch({
    executablePath: EXECUTABLE,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic',
    ],
  });
}
