import { crashSuite } from './crash-suite.ts';

// Policy close: the restarted process ends a cut answer with INTERRUPTED.
crashSuite('close');
