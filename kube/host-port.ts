// A pod's listen address flags (--listen, --admin-listen): HOST:PORT, IPv6 in brackets.

/** Parses HOST:PORT; null when it is not one (the caller names the flag in its error). */
export function parseHostPort(value: string): { host: string; port: number } | null {
  const m = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(value);
  if (m === null || Number(m[2]) > 65535) return null;
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}
