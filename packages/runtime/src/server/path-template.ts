import { AtmosphereError } from '../errors.ts';

/**
 * A path with `{name}` segments (`/chat/{room}`) and an optional trailing `*` (`/files/*`). `{name}` matches
 * one non-empty segment; `*` matches the rest of the path, including nothing.
 */
export class PathTemplate {
  readonly template: string;
  readonly names: readonly string[];
  /** Literal segments count more than parameters when two templates match the same path. */
  readonly specificity: number;
  readonly #segments: readonly (string | { param: string })[];
  readonly #wildcard: boolean;

  constructor(template: string) {
    if (!template.startsWith('/')) {
      throw new AtmosphereError('INVALID_OPTION', `Path ${JSON.stringify(template)} must start with "/".`);
    }
    const trimmed = template.length > 1 && template.endsWith('/') ? template.slice(0, -1) : template;
    const parts = trimmed === '/' ? [] : trimmed.slice(1).split('/');
    this.#wildcard = parts.at(-1) === '*';
    if (this.#wildcard) parts.pop();
    const names: string[] = [];
    this.#segments = parts.map((part) => {
      const match = /^\{([A-Za-z_][A-Za-z0-9_]*)\}$/.exec(part);
      if (match) {
        names.push(match[1]!);
        return { param: match[1]! };
      }
      if (part.includes('{') || part.includes('}') || part.includes('*')) {
        throw new AtmosphereError(
          'INVALID_OPTION',
          `Path ${JSON.stringify(template)}: a segment is either literal or one whole {name}; got ${JSON.stringify(part)}.`,
        );
      }
      return part;
    });
    this.template = trimmed;
    this.names = names;
    this.specificity =
      this.#segments.reduce<number>((n, s) => n + (typeof s === 'string' ? 2 : 1), 0) * 2 +
      (this.#wildcard ? 0 : 1);
  }

  /** The parameters when `path` matches, else undefined. */
  match(path: string): Record<string, string> | undefined {
    const trimmed = path.length > 1 && path.endsWith('/') ? path.slice(0, -1) : path;
    const parts = trimmed === '/' ? [] : trimmed.slice(1).split('/');
    if (parts.length < this.#segments.length) return undefined;
    if (!this.#wildcard && parts.length !== this.#segments.length) return undefined;
    const params: Record<string, string> = {};
    for (let i = 0; i < this.#segments.length; i++) {
      const segment = this.#segments[i]!;
      const part = parts[i]!;
      if (typeof segment === 'string') {
        if (segment !== part) return undefined;
      } else {
        if (part === '') return undefined;
        params[segment.param] = part;
      }
    }
    if (this.#wildcard) params['*'] = parts.slice(this.#segments.length).join('/');
    return params;
  }
}

/** A table of templates; the most specific match wins. */
export class PathTable<T> {
  readonly #entries: { template: PathTemplate; value: T }[] = [];

  add(template: string, value: T): PathTemplate {
    const compiled = new PathTemplate(template);
    if (this.#entries.some((e) => e.template.template === compiled.template)) {
      throw new AtmosphereError('DUPLICATE_PATH', `Path ${compiled.template} is already registered.`);
    }
    this.#entries.push({ template: compiled, value });
    this.#entries.sort((a, b) => b.template.specificity - a.template.specificity);
    return compiled;
  }

  /** The templates, most specific first. */
  templates(): string[] {
    return this.#entries.map((entry) => entry.template.template);
  }

  remove(template: string): boolean {
    const normalized = new PathTemplate(template).template;
    const index = this.#entries.findIndex((e) => e.template.template === normalized);
    if (index === -1) return false;
    this.#entries.splice(index, 1);
    return true;
  }

  match(path: string): { value: T; params: Record<string, string>; template: PathTemplate } | undefined {
    for (const entry of this.#entries) {
      const params = entry.template.match(path);
      if (params) return { value: entry.value, params, template: entry.template };
    }
    return undefined;
  }

  get size(): number {
    return this.#entries.length;
  }

  values(): T[] {
    return this.#entries.map((e) => e.value);
  }
}
