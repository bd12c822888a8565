import { Chat } from '@ai-sdk/vue';
import { lastAssistantMessageIsCompleteWithApprovalResponses } from 'ai';
import { createApp, defineComponent, h, ref, watchEffect } from 'vue';
import { chatId, makeTransport, savedMessages, saveMessages, snapshot } from './setup.ts';

// Stock @ai-sdk/vue Chat on the Atmosphere transport. (@ai-sdk/vue pins its own copy of `ai`, whose types
// are the same shapes under other names: hence the casts.)
const chat = new Chat({
  id: chatId,
  transport: makeTransport() as never,
  sendAutomaticallyWhen: lastAssistantMessageIsCompleteWithApprovalResponses,
});
chat.messages = savedMessages() as never;

const App = defineComponent(() => {
  const input = ref('');
  watchEffect(() => {
    saveMessages(chat.messages, chat.status);
    (window as unknown as { chat: unknown }).chat = snapshot(chat.messages, chat.status, chat.error);
  });
  return () =>
    h('main', [
      h('p', { id: 'status' }, chat.status),
      ...chat.messages.map((message) =>
        h('div', { key: message.id, 'data-role': message.role }, [
          ...message.parts.map((part) => {
            if (part.type === 'text') return h('span', part.text);
            if (part.type === 'tool-weather' && part.state === 'approval-requested') {
              const id = part.approval.id;
              return h('span', { class: 'approval' }, [
                h(
                  'button',
                  { id: 'approve', onClick: () => void chat.addToolApprovalResponse({ id, approved: true }) },
                  'Approve',
                ),
                h(
                  'button',
                  { id: 'deny', onClick: () => void chat.addToolApprovalResponse({ id, approved: false }) },
                  'Deny',
                ),
              ]);
            }
            return null;
          }),
        ]),
      ),
      h(
        'form',
        {
          onSubmit: (event: Event) => {
            event.preventDefault();
            void chat.sendMessage({ text: input.value });
            input.value = '';
          },
        },
        [
          h('input', {
            id: 'prompt',
            value: input.value,
            onInput: (event: Event) => (input.value = (event.target as HTMLInputElement).value),
          }),
          h('button', { id: 'send', type: 'submit' }, 'Send'),
        ],
      ),
      h('button', { id: 'stop', onClick: () => void chat.stop() }, 'Stop'),
      h('button', { id: 'resume', onClick: () => void chat.resumeStream() }, 'Resume'),
    ]);
});

createApp(App).mount('#root');
document.title = 'chat ready';
if (chat.messages.length > 0 || sessionStorage.length > 0) void chat.resumeStream();
