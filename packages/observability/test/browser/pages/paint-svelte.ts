import { mount } from 'svelte';
import Paint from './Paint.svelte';

mount(Paint, { target: document.getElementById('root')! });
