import type { Atmosphere } from '@atmosphere/runtime';
import {
  CHROMIUM_EXECUTABLE,
  CHROMIUM_LAUNCH_OPTIONS,
  hasChromium,
  startTestAtmosphere,
} from '@atmosphere/runtime/testing';
import { type Browser, chromium, type Page } from 'playwright-core';
import { Registry } from 'prom-client';
import { metrics, metricsHandler, tracing } from '../../src/index.ts';
import { inMemoryTracing } from '../tracing-support.ts';
import type { PaintPage } from './build.ts';

/** Debian's Chromium, or an error that says how to install it. */
export async function launchChromium(): Promise<Browser> {
  if (!hasChromium())
    throw new Error(`${CHROMIUM_EXECUTABLE} is missing: install it (apt-get install -y chromium).`);
  return chromium.launch({ ...CHROMIUM_LAUNCH_OPTIONS, args: [...CHROMIUM_LAUNCH_OPTIONS.args] });
}

/** A server for a paint page, with the metrics and tracing its reports land in. */
export interface PaintServer {
  readonly atmosphere: Atmosphere;
  readonly otel: ReturnType<typeof inMemoryTracing>;
  /** The Prometheus text of `/metrics`. */
  scrape(): Promise<string>;
  close(): Promise<void>;
}

/**
 * Starts a server with Prometheus metrics and in-memory tracing, serving `page` at `/paint` (its script at
 * `/paint.js`), the metrics at `/metrics` and an empty `/favicon.ico` (a 404 would be a console error). The
 * caller mounts what the page talks to.
 */
export async function startPaintServer(page: PaintPage): Promise<PaintServer> {
  const registry = new Registry();
  const otel = inMemoryTracing();
  const atmosphere = await startTestAtmosphere({
    providers: [metrics({ registry }), tracing({ tracer: otel.provider.getTracer('test') })],
  });
  atmosphere.handle('/metrics', metricsHandler(registry));
  const serve = (path: string, type: string, body: string): void => {
    atmosphere.handle(path, {
      request: (_request, response) => {
        response.writeHead(200, { 'Content-Type': `${type}; charset=utf-8` });
        response.end(body);
      },
    });
  };
  serve('/paint', 'text/html', page.html);
  serve('/paint.js', 'text/javascript', page.script);
  atmosphere.handle('/favicon.ico', {
    request: (_request, response) => {
      response.writeHead(204);
      response.end();
    },
  });
  return {
    atmosphere,
    otel,
    scrape: async () => (await fetch(atmosphere.url('/metrics'))).text(),
    close: async () => {
      await atmosphere.close();
      await otel.close();
    },
  };
}

/**
 * Opens the server's paint page in a new tab, waits for it to be ready (its title) and presses its send button.
 * `errors` collects the page's uncaught errors and console errors and warnings.
 */
export async function sendFromPaintPage(
  browser: Browser,
  server: PaintServer,
): Promise<{ readonly tab: Page; readonly errors: string[] }> {
  const tab = await browser.newPage();
  const errors: string[] = [];
  tab.on('pageerror', (error) => errors.push(error.message));
  tab.on('console', (message) => {
    if (message.type() === 'error' || message.type() === 'warning') errors.push(message.text());
  });
  await tab.goto(server.atmosphere.url('/paint'));
  await tab.waitForFunction(() => document.title === 'ready', undefined, { timeout: 15_000 });
  await tab.click('[data-testid="send"]');
  return { tab, errors };
}
