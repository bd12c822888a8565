import { Registry } from 'prom-client';
import { metricsContract } from '../src/testing/metrics-contract.ts';
import { prometheusSubject } from '../src/testing/prometheus-subject.ts';

metricsContract('prom-client', { create: () => prometheusSubject(new Registry()) });
metricsContract('prom-client, every broadcast timed', {
  create: () => prometheusSubject(new Registry(), { broadcastTiming: 1 }),
});
