import { mount } from 'svelte';
import '../shared/style.css';
import { showModelBanner } from '../shared/banner.ts';
import App from './App.svelte';

mount(App, { target: document.getElementById('app')! });

void showModelBanner();
