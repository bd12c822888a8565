import type { Scenario } from './scenario.ts';

/** Scenario 3: token streaming (written once @atmosphere/ai's StreamingSession exists). */
export const tokensScenario: Scenario = {
  id: 'tokens',
  title: '3. Token streaming',
  async run() {
    return { comparisons: [], goals: [], notes: ['not yet measured'], profiles: [], data: null };
  },
};
