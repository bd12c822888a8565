import { tool } from '@atmosphere/ai';
import { z } from 'zod';

/** Simulated weather: stable per city, so the sample needs no weather API. */
export const weather = tool({
  name: 'weather',
  description: 'Current weather of a city (simulated by the sample).',
  parameters: z.object({ city: z.string().min(1).max(80).describe('The city, e.g. Montreal') }),
  execute: ({ city }) => {
    let hash = 0;
    for (const char of city.toLowerCase()) hash = (hash * 31 + char.charCodeAt(0)) >>> 0;
    const conditions = ['sunny', 'cloudy', 'light rain', 'snow', 'windy'][hash % 5];
    return { city, celsius: (hash % 35) - 5, conditions, simulated: true };
  },
});

/** Sends nothing for real: it shows how a tool that acts on the user's behalf asks for approval first. */
export const sendEmail = tool({
  name: 'send_email',
  description:
    'Send an email on behalf of the user (simulated: nothing leaves the server). Requires the user’s approval.',
  parameters: z.object({
    to: z.string().min(3).max(200),
    subject: z.string().max(200).optional(),
    body: z.string().max(2000).optional(),
  }),
  requiresApproval: true,
  approvalMessage: ({ to }) => `Send an email to ${to}?`,
  execute: ({ to, subject }) => ({ sent: true, to, subject: subject ?? '(no subject)', simulated: true }),
});
