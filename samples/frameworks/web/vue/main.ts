import { createApp, h } from 'vue';
import { AtmosphereProvider } from '@atmosphere/client/vue';
import '../shared/style.css';
import { showModelBanner } from '../shared/banner.ts';
import App from './App.vue';

// The provider gives the composables below it their own client (outside one, they use the default client).
createApp(() => h(AtmosphereProvider, null, () => h(App))).mount('#app');

void showModelBanner();
