import { crashSuite } from './crash-suite.ts';

// Policy continue: the restarted process asks the model to continue a cut answer from its partial text.
crashSuite('continue');
