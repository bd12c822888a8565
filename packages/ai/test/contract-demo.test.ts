import { demoRuntime } from '../src/runtimes/demo/demo-runtime.ts';
import { agentRuntimeContract, CONTRACT_TEXT } from '../src/testing/index.ts';

agentRuntimeContract({
  name: 'demo model',
  create(scenario) {
    switch (scenario) {
      case 'text':
        return { runtime: demoRuntime({ delayMs: 0, answer: () => CONTRACT_TEXT }) };
      case 'tool-call':
        return { runtime: demoRuntime({ delayMs: 0 }) };
      case 'error':
        return {
          runtime: demoRuntime({
            delayMs: 0,
            answer: () => {
              throw new Error('The scripted answer failed.');
            },
          }),
        };
      case 'slow':
        return { runtime: demoRuntime({ delayMs: 20, answer: () => 'word '.repeat(2000) }) };
      case 'structured':
        return undefined;
    }
  },
});
