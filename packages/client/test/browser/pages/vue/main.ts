import { createApp, h } from 'vue';
import { Atmosphere } from '../../../../src/index.ts';
import { AtmosphereProvider } from '../../../../src/vue/index.ts';
import App from './App.vue';

const client = new Atmosphere();
createApp({ render: () => h(AtmosphereProvider, { instance: client }, { default: () => h(App) }) }).mount(
  '#app',
);
