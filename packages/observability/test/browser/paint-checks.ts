import type { InMemorySpanExporter } from '@opentelemetry/sdk-trace-base';
import { expect } from 'vitest';
import { sample } from '../prometheus-text.ts';
import { named, parentOf } from '../tracing-support.ts';

const LABELS = 'gen_ai_provider_name="demo",gen_ai_request_model="default"';

/**
 * After a page painted an answer of `frames` text frames with paint timing on (sample rate 1): the histograms
 * count each frame once (painted after received), no report was refused, and every `atmosphere.ai.paint`
 * span is a child of the run's `chat` span, in its trace, with its run id, their samples adding up to `frames`.
 */
export async function expectEveryFramePainted(
  scrape: () => Promise<string>,
  exporter: InMemorySpanExporter,
  frames: number,
): Promise<void> {
  await expect
    .poll(async () => sample(await scrape(), 'atmosphere_ai_token_to_paint_seconds_count', LABELS), {
      timeout: 15_000,
      interval: 50,
    })
    .toBe(frames);
  const text = await scrape();
  expect(sample(text, 'atmosphere_ai_token_to_receive_seconds_count', LABELS)).toBe(frames);
  expect(sample(text, 'atmosphere_ai_paint_lag_frames_count', LABELS)).toBe(frames);
  expect(sample(text, 'atmosphere_ai_paint_reports_total', 'outcome="accepted"')).toBeGreaterThan(0);
  expect(sample(text, 'atmosphere_ai_paint_reports_total', 'outcome="refused"') ?? 0).toBe(0);
  // A frame is painted after it is received, and within the histogram's range on this machine.
  const toPaint = sample(text, 'atmosphere_ai_token_to_paint_seconds_sum', LABELS)!;
  const toReceive = sample(text, 'atmosphere_ai_token_to_receive_seconds_sum', LABELS)!;
  expect(toPaint).toBeGreaterThanOrEqual(toReceive);
  expect(sample(text, 'atmosphere_ai_token_to_paint_seconds_bucket', `le="10",${LABELS}`)).toBe(frames);

  // Traces: each report is an `atmosphere.ai.paint` span, child of the run's `chat` span, same run id.
  const spans = exporter.getFinishedSpans();
  const [run] = named(spans, 'chat default');
  expect(run).toBeDefined();
  const runId = run!.attributes['atmosphere.ai.run_id'];
  expect(typeof runId).toBe('string');
  const paints = named(spans, 'atmosphere.ai.paint');
  expect(paints.length).toBeGreaterThan(0);
  let samples = 0;
  for (const paint of paints) {
    expect(parentOf(paint)).toBe(run!.spanContext().spanId);
    expect(paint.spanContext().traceId).toBe(run!.spanContext().traceId);
    expect(paint.attributes['atmosphere.ai.run_id']).toBe(runId);
    expect(paint.attributes['atmosphere.ai.token_to_paint_ms.max']).toBeGreaterThanOrEqual(
      paint.attributes['atmosphere.ai.token_to_receive_ms.max'] as number,
    );
    samples += paint.attributes['atmosphere.ai.paint.samples'] as number;
  }
  expect(samples).toBe(frames);
}
