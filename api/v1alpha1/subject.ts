// Certificate subjects compared the same way everywhere: a binding's `CN=a,O=b` matches a
// certificate whose subject lists O before CN. The compiler uses it to find two bindings
// claiming one subject, the dataplane to match a peer certificate.

/**
 * "CN=a\nO=b", "O=b, CN=a" -> "CN=a,O=b". The attributes are sorted: a certificate usually encodes
 * O before CN while a binding writes the subject the RFC 4514 way (CN first).
 */
export function normalizeSubject(subject: string): string {
  return subject
    .split(/[\n,]/)
    .map((part) => part.trim())
    .filter((part) => part.length > 0)
    .sort()
    .join(',');
}
