/** A top-level field whose value has been fully received. `raw` is its JSON text. */
export interface ScannedField {
  readonly name: string;
  readonly raw: string;
}

type State = 'before' | 'key' | 'in-key' | 'colon' | 'value' | 'done';

/**
 * Finds the top-level fields of a JSON object while it streams in, chunk by chunk, in one pass over the text.
 * Text before the first `{` (a code fence, a preamble) is skipped; text after the closing `}` is ignored.
 */
export class JsonFieldScanner {
  #text = '';
  #pos = 0;
  #state: State = 'before';
  #depth = 0;
  #inString = false;
  #escape = false;
  #start = -1;
  #end = -1;
  #keyStart = 0;
  #key = '';
  #valueStart = 0;

  /** True once the top-level object closed. */
  get done(): boolean {
    return this.#state === 'done';
  }

  /** The object's JSON text (from `{` to `}`), once done. */
  get objectText(): string | undefined {
    return this.#end === -1 ? undefined : this.#text.slice(this.#start, this.#end + 1);
  }

  /** Feeds a chunk; returns the fields it completed. */
  push(chunk: string): ScannedField[] {
    if (this.#state === 'done') return [];
    this.#text += chunk;
    const text = this.#text;
    const fields: ScannedField[] = [];
    for (let i = this.#pos; i < text.length; i++) {
      const c = text.charCodeAt(i);
      if (this.#state === 'before') {
        if (c === 123 /* { */) {
          this.#state = 'key';
          this.#depth = 1;
          this.#start = i;
        }
        continue;
      }
      if (this.#inString) {
        if (this.#escape) this.#escape = false;
        else if (c === 92 /* \ */) this.#escape = true;
        else if (c === 34 /* " */) {
          this.#inString = false;
          if (this.#state === 'in-key') {
            this.#key = parseKey(text.slice(this.#keyStart, i + 1));
            this.#state = 'colon';
          }
        }
        continue;
      }
      if (c === 34) {
        this.#inString = true;
        if (this.#state === 'key' && this.#depth === 1) {
          this.#state = 'in-key';
          this.#keyStart = i;
        }
        continue;
      }
      if (c === 58 /* : */ && this.#state === 'colon') {
        this.#state = 'value';
        this.#valueStart = i + 1;
        continue;
      }
      if (c === 123 || c === 91 /* [ */) {
        this.#depth++;
        continue;
      }
      if (c === 125 /* } */ || c === 93 /* ] */) {
        this.#depth--;
        if (this.#depth === 0) {
          if (this.#state === 'value')
            fields.push({ name: this.#key, raw: text.slice(this.#valueStart, i).trim() });
          this.#state = 'done';
          this.#end = i;
          this.#pos = i + 1;
          return fields;
        }
        continue;
      }
      if (c === 44 /* , */ && this.#depth === 1 && this.#state === 'value') {
        fields.push({ name: this.#key, raw: text.slice(this.#valueStart, i).trim() });
        this.#state = 'key';
      }
    }
    this.#pos = text.length;
    return fields;
  }
}

function parseKey(quoted: string): string {
  try {
    return JSON.parse(quoted) as string;
  } catch {
    return quoted.slice(1, -1);
  }
}
