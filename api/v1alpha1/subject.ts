// Certificate subjects compared the same way everywhere, as structured names (RFC 4514), never
// as text: a binding's `CN=a,O=b` matches a certificate whose subject lists O before CN, and a
// certificate whose common name is the one value `a,O=b` matches neither. The compiler uses it
// to find two bindings claiming one subject, the dataplane to match a peer certificate.

/** One attribute of a name: its type (upper case short name) and its value, unescaped. */
export interface SubjectAttribute {
  type: string;
  value: string;
}

/** OIDs (RFC 4514 section 3 and the names Node's certificate objects use) to one short name. */
const TYPE_ALIASES: Record<string, string> = {
  '2.5.4.3': 'CN',
  '2.5.4.4': 'SN',
  '2.5.4.5': 'SERIALNUMBER',
  '2.5.4.6': 'C',
  '2.5.4.7': 'L',
  '2.5.4.8': 'ST',
  '2.5.4.9': 'STREET',
  '2.5.4.10': 'O',
  '2.5.4.11': 'OU',
  '2.5.4.12': 'TITLE',
  '2.5.4.42': 'GN',
  '0.9.2342.19200300.100.1.1': 'UID',
  '0.9.2342.19200300.100.1.25': 'DC',
  '1.2.840.113549.1.9.1': 'EMAILADDRESS',
  E: 'EMAILADDRESS',
  S: 'ST',
  GIVENNAME: 'GN',
  SURNAME: 'SN',
  USERID: 'UID',
};

const TYPE = /^([A-Za-z][A-Za-z0-9-]*|[0-9]+(\.[0-9]+)*)$/;

export function canonicalType(type: string): string {
  const upper = type.toUpperCase();
  return TYPE_ALIASES[upper] ?? upper;
}

/**
 * The value escaped the RFC 4514 way (section 2.4), always the same way, so that two values are
 * equal exactly when their escaped forms are: `,+"\<>;=` and control characters always, `#`
 * and space at the start, space at the end.
 */
export function escapeValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const ch = value[i] as string;
    const code = ch.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, '0').toUpperCase()}`;
    else if (',+"\\<>;='.includes(ch)) out += `\\${ch}`;
    else if ((i === 0 && (ch === '#' || ch === ' ')) || (i === value.length - 1 && ch === ' ')) out += `\\${ch}`;
    else out += ch;
  }
  return out;
}

/** The canonical form of a set of attributes: `TYPE=escaped` pairs, sorted, joined by commas. */
export function subjectOf(attributes: readonly SubjectAttribute[]): string {
  return attributes
    .map((a) => `${canonicalType(a.type)}=${escapeValue(a.value)}`)
    .sort()
    .join(',');
}

const HEX = /^[0-9A-Fa-f]{2}$/;

/**
 * Parses a distinguished name written the RFC 4514 way (`CN=a\,b+OU=x,O=Org`); spaces around
 * separators are tolerated (RFC 2253 allowed them). Multi-valued RDNs (`+`) are flattened:
 * a certificate's subject, as TLS libraries report it, is a list of attributes. Returns the
 * attributes, or a sentence saying what is wrong.
 */
export function parseSubject(text: string): SubjectAttribute[] | string {
  const attributes: SubjectAttribute[] = [];
  let i = 0;
  const n = text.length;
  const skipSpaces = (): void => {
    while (i < n && text[i] === ' ') i++;
  };
  for (;;) {
    skipSpaces();
    const typeStart = i;
    while (i < n && text[i] !== '=') i++;
    if (i >= n) return `attribute ${attributes.length + 1} has no "=" (expected TYPE=value, e.g. CN=name)`;
    const type = text.slice(typeStart, i).trim();
    if (!TYPE.test(type)) return `attribute type ${JSON.stringify(type)} is not a name or an OID`;
    i++; // '='
    skipSpaces();
    if (text[i] === '#') return `the value of ${type} is hex-encoded (#...), which is not supported; write the value as text`;
    // Bytes of escaped UTF-8 (\C3\A9) are gathered, then decoded.
    const bytes: number[] = [];
    let lastSignificant = 0;
    let quoted = false;
    if (text[i] === '"') return `the value of ${type} is quoted; RFC 4514 escapes with backslashes instead`;
    while (i < n && text[i] !== ',' && text[i] !== '+') {
      const ch = text[i] as string;
      if (ch === '\\') {
        const next = text.slice(i + 1, i + 3);
        if (HEX.test(next)) {
          bytes.push(parseInt(next, 16));
          i += 3;
        } else if (i + 1 < n && ' "#+,;<=>\\'.includes(text[i + 1] as string)) {
          bytes.push((text[i + 1] as string).charCodeAt(0));
          i += 2;
        } else {
          return `the value of ${type} has an invalid escape at character ${i + 1}`;
        }
        lastSignificant = bytes.length;
        quoted = true;
        continue;
      }
      if (ch === '"' || ch === ';' || ch === '<' || ch === '>' || ch === '\0') {
        return `the value of ${type} holds an unescaped ${JSON.stringify(ch)} at character ${i + 1}`;
      }
      for (const b of Buffer.from(ch, 'utf8')) bytes.push(b);
      if (ch !== ' ') lastSignificant = bytes.length;
      i++;
    }
    // Unescaped trailing spaces are formatting, not value.
    const raw = Buffer.from(bytes.slice(0, lastSignificant));
    const value = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
    let decoded: string;
    try {
      decoded = value.decode(raw);
    } catch {
      return `the value of ${type} is not valid UTF-8 once unescaped`;
    }
    if (decoded.length === 0 && !quoted) return `the value of ${type} is empty`;
    attributes.push({ type: canonicalType(type), value: decoded });
    if (i >= n) break;
    i++; // ',' or '+'
    if (i >= n) return 'the subject ends with a separator';
  }
  if (attributes.length === 0) return 'the subject is empty';
  return attributes;
}

/**
 * The canonical form of a subject written by a person, or null when it does not parse.
 * `O=Snapp, CN=dispatch` and `CN=dispatch,O=Snapp` give the same; `CN=a\,O=b` does not.
 */
export function normalizeSubject(subject: string): string | null {
  const parsed = parseSubject(subject);
  return typeof parsed === 'string' ? null : subjectOf(parsed);
}

/** Why a subject written by a person is unusable, or null. */
export function subjectProblem(subject: string): string | null {
  const parsed = parseSubject(subject);
  return typeof parsed === 'string' ? parsed : null;
}
