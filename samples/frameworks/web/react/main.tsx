import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { AtmosphereProvider } from '@atmosphere/client/react';
import '../shared/style.css';
import { showModelBanner } from '../shared/banner.ts';
import { App } from './app.tsx';

// The provider gives the hooks below it their own client (outside one, they use the default client).
createRoot(document.getElementById('app')!).render(
  <StrictMode>
    <AtmosphereProvider>
      <App />
    </AtmosphereProvider>
  </StrictMode>,
);

void showModelBanner();
