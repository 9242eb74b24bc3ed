// What a JSON body must not hold before it is validated and forwarded: a key twice in one object,
// and nesting deeper than anyone needs. JSON.parse keeps the last of two equal keys, an agency's
// parser may keep the first (or match keys regardless of case, as Go's encoding/json and ASP.NET
// do), so the schema would check one value and the agency act on another.
//
// One pass over the text, no recursion: a stack of open objects and arrays, bounded by
// MAX_JSON_DEPTH. It reads only structure (strings, braces, brackets, commas) and leaves every
// other syntax error to JSON.parse: on valid JSON its view of the structure is exact, because a
// string is the only place a brace or a comma can hide, and strings end at an unescaped quote.
import { isUtf8 } from 'node:buffer';

/** Deeper than any inquiry needs; far below what would strain a recursive parser or validator. */
export const MAX_JSON_DEPTH = 64;

/** Keys of one object compared by a linear scan up to this many, then through a Set. */
const SCAN_KEYS = 8;

export interface JsonBodyProblem {
  /** JSON Pointer to the offending key or value, as ajv reports instancePath */
  path: string;
  message: string;
}

/**
 * The body as text, or null when it is not valid UTF-8 (RFC 8259 section 8.1): decoding would
 * replace the bad bytes, so the schema would check other characters than the agency receives.
 * A byte order mark is kept, and JSON.parse refuses it.
 */
export function jsonText(body: Buffer): string | null {
  return isUtf8(body) ? body.toString('utf8') : null;
}

interface Frame {
  /** null for an array */
  keys: string[] | null;
  set: Set<string> | null;
  /** the key being read (object) */
  key: string;
  /** the element being read (array) */
  index: number;
  /** an object waits for a key: after '{' and after ',' */
  expectKey: boolean;
}

/**
 * The first duplicate key (equal, or equal once case is folded) or the first value nested deeper
 * than MAX_JSON_DEPTH, or null. Malformed JSON gives null when the scan cannot go on: JSON.parse
 * then reports it.
 */
export function jsonBodyProblem(text: string): JsonBodyProblem | null {
  const stack: Frame[] = [];
  const length = text.length;
  for (let i = 0; i < length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i + 1);
      if (end < 0) return null;
      const top = stack.length > 0 ? (stack[stack.length - 1] as Frame) : null;
      if (top !== null && top.keys !== null && top.expectKey) {
        const key = decodeKey(text, i + 1, end);
        top.key = key;
        top.expectKey = false;
        const clash = addKey(top, key);
        if (clash !== null) return duplicate(stack, key, clash);
      }
      i = end;
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      if (stack.length >= MAX_JSON_DEPTH) {
        return { path: pointer(stack), message: `The body nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels.` };
      }
      const object = c === 0x7b;
      stack.push({ keys: object ? [] : null, set: null, key: '', index: 0, expectKey: object });
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      if (stack.pop() === undefined) return null;
    } else if (c === 0x2c /* , */) {
      const top = stack[stack.length - 1];
      if (top === undefined) return null;
      if (top.keys !== null) top.expectKey = true;
      else top.index++;
    }
  }
  return null;
}

/** The index of the quote that closes the string whose first character is at `from`, or -1. */
function stringEnd(text: string, from: number): number {
  for (let i = from; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) return i;
    if (c === 0x5c /* \ */) i++;
  }
  return -1;
}

/** A key exactly as JSON.parse reads it: escapes decoded, each \uXXXX one UTF-16 code unit. */
function decodeKey(text: string, start: number, end: number): string {
  const backslash = text.indexOf('\\', start);
  if (backslash < 0 || backslash >= end) return text.slice(start, end);
  let out = text.slice(start, backslash);
  for (let i = backslash; i < end; i++) {
    const c = text[i] as string;
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = text[++i];
    if (e === 'u') {
      out += String.fromCharCode(Number.parseInt(text.slice(i + 1, i + 5), 16));
      i += 4;
    } else {
      out += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e === 'b' ? '\b' : e === 'f' ? '\f' : (e ?? '');
    }
  }
  return out;
}

/**
 * Keys compared the way the most lenient parser would match them to fields: ignoring case, with
 * Unicode's case mappings (the Kelvin sign is a k, the long s an s), as Go's encoding/json does.
 */
function folded(key: string): string {
  for (let i = 0; i < key.length; i++) if (key.charCodeAt(i) > 0x7f) return key.toUpperCase().toLowerCase();
  return key.toLowerCase();
}

/** Records the key in its object; returns the key it clashes with, or null. */
function addKey(frame: Frame, key: string): string | null {
  const fold = folded(key);
  const keys = frame.keys as string[];
  if (frame.set === null) {
    // keys holds [original, folded, original, folded, ...]
    for (let k = 1; k < keys.length; k += 2) if (keys[k] === fold) return keys[k - 1] as string;
    keys.push(key, fold);
    if (keys.length > SCAN_KEYS * 2) frame.set = new Set(keys.filter((_, k) => k % 2 === 1));
    return null;
  }
  if (frame.set.has(fold)) {
    for (let k = 1; k < keys.length; k += 2) if (keys[k] === fold) return keys[k - 1] as string;
    return key;
  }
  frame.set.add(fold);
  keys.push(key, fold);
  return null;
}

function duplicate(stack: readonly Frame[], key: string, first: string): JsonBodyProblem {
  const path = pointer(stack);
  const where = path.length - escapeSegment(key).length - 1;
  const parent = where <= 0 ? 'the top-level object' : `the object at ${path.slice(0, where)}`;
  const message =
    first === key
      ? `The key "${key}" appears twice in ${parent}: JSON parsers disagree on which value counts.`
      : `The keys "${first}" and "${key}" in ${parent} differ only in case: an agency's parser may read them as one field.`;
  return { path, message };
}

/** The JSON Pointer of the key or element being read in every open frame. */
function pointer(stack: readonly Frame[]): string {
  let out = '';
  for (const frame of stack) {
    if (frame.keys === null) out += `/${frame.index}`;
    else if (!frame.expectKey) out += `/${escapeSegment(frame.key)}`;
  }
  return out;
}

const escapeSegment = (key: string): string => key.replace(/~/g, '~0').replace(/\//g, '~1');
