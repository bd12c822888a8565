import { useStreaming } from '@atmosphere/client/vue';
import { createApp, defineComponent, h, watchEffect } from 'vue';

/** The React page's twin on the Vue binding: every text frame timed, the samples sent within 100 ms. */
const App = defineComponent({
  setup() {
    const ai = useStreaming({
      request: { url: '/ai/paint', transport: 'websocket' },
      paintTiming: { sampleRate: 1, flushMs: 100 },
    });
    watchEffect(() => {
      if (ai.connectionState.value === 'connected') document.title = 'ready';
    });
    return () =>
      h('main', [
        h('button', { 'data-testid': 'send', onClick: () => ai.send('Tell me a story') }, 'Send'),
        h('p', { 'data-testid': 'answer' }, ai.fullText.value),
        h(
          'p',
          { 'data-testid': 'status' },
          ai.stats.value?.status ?? (ai.isStreaming.value ? 'streaming' : 'idle'),
        ),
      ]);
  },
});

createApp(App).mount('#root');
