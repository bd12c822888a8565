import { useRoom } from '@atmosphere/client/vue';
import { createApp, defineComponent, h, watchEffect } from 'vue';

/** The React room page's twin on the Vue binding: every text frame of the AI member's answers timed. */
const App = defineComponent({
  setup() {
    const room = useRoom({
      request: { url: '/rooms', transport: 'websocket' },
      room: 'lobby',
      member: { id: 'alice' },
      paintTiming: { sampleRate: 1, flushMs: 100 },
    });
    watchEffect(() => {
      if (room.joined.value) document.title = 'ready';
    });
    return () => {
      const reply = room.messages.value.find((message) => message.from === 'assistant');
      return h('main', [
        h(
          'button',
          { 'data-testid': 'send', onClick: () => room.broadcast('@assistant tell me a story') },
          'Send',
        ),
        h('p', { 'data-testid': 'stream' }, room.streams.value.map((stream) => stream.text).join('')),
        h('p', { 'data-testid': 'answer' }, (reply?.data as { text?: string } | undefined)?.text ?? ''),
      ]);
    };
  },
});

createApp(App).mount('#root');
