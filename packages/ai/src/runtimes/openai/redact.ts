// Shapes of API keys that provider error messages sometimes echo back ("Incorrect API key provided: sk-ab…").
const KEY_SHAPES = /(?<![A-Za-z0-9])(?:sk-[A-Za-z0-9_*-]{6,}|AIza[0-9A-Za-z_*-]{10,}|gsk_[A-Za-z0-9*]{10,})/g;

/**
 * Removes secrets from text that may reach clients or logs: every occurrence of the given secrets and anything
 * shaped like a provider API key.
 */
export function redactSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) {
    if (secret && secret.length >= 4) out = out.split(secret).join('[redacted]');
  }
  return out.replace(KEY_SHAPES, '[redacted]');
}
