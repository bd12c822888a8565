import { mount } from 'svelte';
import '../shared/style.css';
import App from './App.svelte';

mount(App, { target: document.getElementById('app')! });
