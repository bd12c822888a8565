const handledLater = (): void => undefined;

/**
 * `value` once `before` has settled: the appends of a broadcaster are placed in order, each after the one before.
 * A `value` that rejects while `before` is still pending is not an unhandled rejection — the process would
 * stop on one, as Node does by default — since the promise returned here carries it to whoever chains on it.
 */
export function after<T>(before: Promise<unknown> | undefined, value: T | Promise<T>): Promise<T> {
  if (value instanceof Promise) value.catch(handledLater);
  return before === undefined ? Promise.resolve(value) : before.then(() => value);
}
