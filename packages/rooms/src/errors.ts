/** Anything thrown, as an Error (kept as is when it already is one), for promise rejections. */
export function asError(value: unknown): Error {
  return value instanceof Error
    ? value
    : new Error(typeof value === 'string' ? value : 'Non-error thrown', { cause: value });
}
