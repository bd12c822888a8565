/** What answers on the server (`/api/info`). */
interface ModelInfo {
  readonly runtime: string;
  readonly demo: boolean;
  readonly model?: string;
}

/**
 * Fills the page's `#model-banner` (outside the framework's app) with what answers: the demo model is labelled
 * as such, as in the main chat sample.
 */
export async function showModelBanner(): Promise<void> {
  const banner = document.getElementById('model-banner');
  if (!banner) return;
  const { model } = (await (await fetch('/api/info')).json()) as { model: ModelInfo };
  if (model.demo) {
    banner.textContent =
      'DEMO model: the AI answers with canned text, streamed like a real model. Start the server with LLM_API_KEY set to use a real one.';
    banner.classList.add('demo');
  } else {
    banner.textContent = `The AI answers with ${model.runtime}${model.model ? ` (${model.model})` : ''}.`;
  }
}
