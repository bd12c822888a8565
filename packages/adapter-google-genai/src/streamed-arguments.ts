import { LlmError } from '@atmosphere/ai/spi';
import type { PartialArg } from '@google/genai';

/** One step of a JSON path: an object member's name or an array index. */
type Segment = string | number;

interface Container {
  readonly segment: Segment;
  readonly kind: 'object' | 'array';
  members: number;
}

const MEMBER = /^\.([A-Za-z_][A-Za-z0-9_]*)/;
const INDEX = /^\[(\d+)\]/;
const QUOTED = /^\[(?:'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)")\]/;

function unescapeName(raw: string): string {
  return raw.replace(/\\(u[0-9a-fA-F]{4}|.)/g, (_, escape: string) =>
    escape.length > 1
      ? String.fromCharCode(Number.parseInt(escape.slice(1), 16))
      : (({ b: '\b', f: '\f', n: '\n', r: '\r', t: '\t' } as Record<string, string>)[escape] ?? escape),
  );
}

/**
 * The steps of an RFC 9535 path as Vertex AI writes them (`$.city`, `$.stops[0].name`, `$['a key']`);
 * undefined when it is not one.
 */
export function pathSegments(path: string): Segment[] | undefined {
  if (!path.startsWith('$')) return undefined;
  const segments: Segment[] = [];
  let rest = path.slice(1);
  while (rest !== '') {
    const member = MEMBER.exec(rest);
    const index = member ? null : INDEX.exec(rest);
    const quoted = member || index ? null : QUOTED.exec(rest);
    if (member) segments.push(member[1]!);
    else if (index) segments.push(Number(index[1]));
    else if (quoted) segments.push(unescapeName(quoted[1] ?? quoted[2] ?? ''));
    else return undefined;
    rest = rest.slice((member ?? index ?? quoted)![0].length);
  }
  return segments;
}

function unreadable(path: string | undefined, why: string): LlmError {
  return new LlmError(
    'unknown',
    `Gemini streamed a function call's arguments that cannot be assembled (${why}: ${JSON.stringify(path ?? null)}).`,
    { retryable: false },
  );
}

/**
 * The JSON text of one function call's arguments, assembled from the pieces Vertex AI streams with
 * `streamFunctionCallArguments` (`functionCall.partialArgs`: a value at a JSON path each; a string value goes on
 * in the next piece of the same path while `willContinue` is true). `push` returns the text a piece adds and
 * `end` the closing text, so the texts joined, in order, are the arguments' JSON: what the client sees as
 * tool-call deltas is exactly what the tool is called with. Members are written in the order they arrive (a
 * path that comes back after another would repeat its member); a piece with no value is an empty string.
 */
export class StreamedArguments {
  readonly #stack: Container[] = [];
  /** The path of a string value left open (`willContinue`), as written. */
  #openString: string | undefined;
  #text = '';

  /** Everything written so far (the whole arguments after {@link end}). */
  get text(): string {
    return this.#text;
  }

  /** Writes one piece; returns the text it adds (empty when none). Throws an `LlmError` on an unreadable path. */
  push(piece: PartialArg): string {
    let out = '';
    if (this.#openString !== undefined) {
      if (piece.jsonPath === this.#openString) {
        out = escaped(piece.stringValue ?? '');
        if (piece.willContinue !== true) {
          out += '"';
          this.#openString = undefined;
        }
        return this.#write(out);
      }
      out = '"';
      this.#openString = undefined;
    }
    const segments = pathSegments(piece.jsonPath ?? '');
    if (segments === undefined || segments.length === 0)
      throw unreadable(piece.jsonPath, 'an unreadable path');
    if (this.#stack.length === 0) {
      out += '{';
      this.#stack.push({ segment: '$', kind: 'object', members: 0 });
    }
    const parent = segments.length - 1;
    // The containers already open that lead to this value stay open; the others are closed.
    let depth = 0;
    while (depth < parent && this.#stack[depth + 1]?.segment === segments[depth]) depth++;
    while (this.#stack.length > depth + 1) out += this.#stack.pop()!.kind === 'object' ? '}' : ']';
    for (let i = depth; i < parent; i++) {
      out += this.#member(segments[i]!, piece.jsonPath);
      const kind = typeof segments[i + 1] === 'number' ? 'array' : 'object';
      out += kind === 'array' ? '[' : '{';
      this.#stack.push({ segment: segments[i]!, kind, members: 0 });
    }
    out += this.#member(segments[parent]!, piece.jsonPath);
    if (piece.numberValue !== undefined) out += JSON.stringify(piece.numberValue);
    else if (piece.boolValue !== undefined) out += piece.boolValue ? 'true' : 'false';
    else if (piece.nullValue !== undefined) out += 'null';
    else {
      out += `"${escaped(piece.stringValue ?? '')}`;
      if (piece.willContinue === true) this.#openString = piece.jsonPath;
      else out += '"';
    }
    return this.#write(out);
  }

  /** Closes what is open; returns that text (`{}` for a call without arguments). */
  end(): string {
    let out = this.#stack.length === 0 ? '{}' : '';
    if (this.#openString !== undefined) out += '"';
    this.#openString = undefined;
    while (this.#stack.length > 0) out += this.#stack.pop()!.kind === 'object' ? '}' : ']';
    return this.#write(out);
  }

  #member(segment: Segment, path: string | undefined): string {
    const container = this.#stack.at(-1)!;
    if ((container.kind === 'array') !== (typeof segment === 'number'))
      throw unreadable(path, 'a path that mixes an array and an object');
    const comma = container.members++ > 0 ? ',' : '';
    return container.kind === 'object' ? `${comma}${JSON.stringify(segment)}:` : comma;
  }

  #write(out: string): string {
    this.#text += out;
    return out;
  }
}

function escaped(text: string): string {
  return JSON.stringify(text).slice(1, -1);
}
