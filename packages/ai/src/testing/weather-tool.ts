import { tool } from '../tools/tool.ts';

/** What {@link weatherTool} looks like and what it records. */
export interface WeatherToolOptions {
  /** Default `get_weather` (the name the replayed transcripts call). */
  readonly name?: string;
  /** Each city it is run for, in order. */
  readonly calls?: string[];
  /** It waits for an approval before it runs (default false). */
  readonly requiresApproval?: boolean;
  /** With `requiresApproval`: the approval's text is `Look up the weather in <city>?`. */
  readonly approvalMessage?: boolean;
}

/**
 * The weather tool of the AI tests: `{ city }` (a JSON schema) in, `{ city, celsius: 21 }` out, each city
 * recorded in `calls`.
 */
export function weatherTool(options: WeatherToolOptions = {}) {
  const { name = 'get_weather', calls, requiresApproval = false } = options;
  return tool({
    name,
    description: 'Current weather of a city',
    parameters: {
      type: 'object',
      properties: { city: { type: 'string', description: 'the city' } },
      required: ['city'],
    },
    requiresApproval,
    ...(options.approvalMessage === true
      ? { approvalMessage: (args: { city?: unknown }) => `Look up the weather in ${String(args.city)}?` }
      : {}),
    execute: (args: { city?: unknown }) => {
      const city = String(args.city);
      calls?.push(city);
      return { city, celsius: 21 };
    },
  });
}
