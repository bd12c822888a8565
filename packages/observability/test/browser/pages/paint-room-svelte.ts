import { mount } from 'svelte';
import PaintRoom from './PaintRoom.svelte';

mount(PaintRoom, { target: document.getElementById('root')! });
