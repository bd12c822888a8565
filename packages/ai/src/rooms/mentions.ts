/*
 * `@name` mentions in room messages. A mention is `@` + a name, case-insensitive, standing as a word of its own:
 * the `@` starts the text or follows a character that is not a letter, digit or `_` (so `bob@assistant`, an
 * e-mail address, mentions nobody), and the name is not the start of a longer id (`@bot2` and `@bot.v2` do not
 * mention `bot`; `@bot.` and `@bot:` at the end of a sentence do).
 */

const AT = 64; // '@'

const LETTER_OR_DIGIT = /[\p{L}\p{N}]/u;

/** A letter, digit or `_`: what makes `x@name` part of a word rather than a mention. */
function isWordCode(code: number): boolean {
  if (code < 128)
    return (
      (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95
    );
  return LETTER_OR_DIGIT.test(String.fromCharCode(code));
}

/** A character that continues a member id on its own (`A-Z a-z 0-9 _ + - @`, and non-ASCII letters). */
function continuesId(code: number): boolean {
  return isWordCode(code) || code === 43 /* + */ || code === 45 /* - */ || code === AT;
}

/** Index of the first mention of `name` in `text`, or -1. */
function findMention(text: string, name: string): number {
  if (name.length === 0) return -1;
  const lowerName = name.toLowerCase();
  for (let at = text.indexOf('@'); at !== -1; at = text.indexOf('@', at + 1)) {
    if (at > 0 && isWordCode(text.charCodeAt(at - 1))) continue;
    const end = at + 1 + name.length;
    // Compared slice by slice: lower-casing the whole text may change its length (and so every index).
    if (end > text.length || text.slice(at + 1, end).toLowerCase() !== lowerName) continue;
    if (end < text.length) {
      const next = text.charCodeAt(end);
      if (continuesId(next)) continue;
      // `.` and `:` belong to ids too: `@bot.v2` is another member, `@bot.` ends a sentence.
      if ((next === 46 || next === 58) && end + 1 < text.length && continuesId(text.charCodeAt(end + 1)))
        continue;
    }
    return at;
  }
  return -1;
}

/** True when `text` mentions any of `names` (`@name`, case-insensitive, as a word of its own). */
export function isMentioned(text: string, names: readonly string[]): boolean {
  if (!text.includes('@')) return false;
  for (const name of names) if (findMention(text, name) !== -1) return true;
  return false;
}

/**
 * The text without its mentions of `names`: each `@name` is removed, with the punctuation that addressed it
 * (`@bot, what…` → `what…`), and whitespace is collapsed around the gap. Mentions of other names stay.
 */
export function stripMentions(text: string, names: readonly string[]): string {
  if (!text.includes('@')) return text.trim();
  let out = text;
  for (const name of names) {
    for (let guard = 0; guard < 1_000; guard++) {
      const at = findMention(out, name);
      if (at === -1) break;
      let end = at + 1 + name.length;
      // "@bot, …" / "@bot: …" — the punctuation addressed the member and goes with the mention.
      while (end < out.length && /[,:;]/.test(out[end]!)) end++;
      const left = out.slice(0, at).replace(/[ \t]+$/, '');
      const right = out.slice(end).replace(/^[ \t]+/, '');
      if (right === '' || /^[,.!?;:)]/.test(right)) {
        // "what do you think, @bot?" → "what do you think?": the comma led to the mention.
        out = left.replace(/[,;:]+$/, '') + right;
      } else {
        out = left === '' ? right : `${left} ${right}`;
      }
    }
  }
  return out.trim();
}
