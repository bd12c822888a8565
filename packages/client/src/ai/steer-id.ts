let steers = 0;

/** A fresh steer id (`[A-Za-z0-9_-]{1,64}`): the time and a counter, in base 36. */
export function nextSteerId(): string {
  return `s${Date.now().toString(36)}${(steers++).toString(36)}`;
}
