// gozargah catalogue: what a client may call on a bus, from manifests, without a cluster. The
// same documents the bus answers at /.well-known/gozargah/ (api/catalogue/), as OpenAPI 3.1,
// Markdown for a portal or an e-mail, or JSON.
import { catalogueOf, openApiOf, type Catalogue, type CatalogueBinding } from '../api/catalogue/index.ts';
import type { Snapshot } from '../api/snapshot/index.ts';

export const CATALOGUE_FORMATS = ['markdown', 'openapi', 'json'] as const;

export class CatalogueUsageError extends Error {}

/** The document for `client` on `bus` (every route of the bus without a client). */
export function catalogueDocument(snapshots: Record<string, Snapshot>, bus: string, client: string | undefined, format: string, now: number): string {
  if (!(CATALOGUE_FORMATS as readonly string[]).includes(format)) throw new CatalogueUsageError(`-o must be ${CATALOGUE_FORMATS.join(', ')}, not ${format}`);
  const snapshot = snapshots[bus];
  if (snapshot === undefined) {
    const known = Object.keys(snapshots).sort();
    throw new CatalogueUsageError(`bus ${bus} has no route or binding in the manifests${known.length > 0 ? `; the buses there are ${known.join(', ')}` : ''}`);
  }
  const bindings = client === undefined ? [] : snapshot.bindings.filter((b) => b.clientId === client);
  if (client !== undefined && bindings.length === 0) {
    const known = [...new Set(snapshot.bindings.map((b) => b.clientId))].sort();
    throw new CatalogueUsageError(`client ${client} has no accepted binding on bus ${bus}${known.length > 0 ? `; the clients there are ${known.join(', ')}` : ''}`);
  }
  if (format === 'openapi') return `${JSON.stringify(openApiOf(snapshot, bindings, { now }), null, 2)}\n`;
  const catalogue = catalogueOf(snapshot, bindings, now);
  return format === 'json' ? `${JSON.stringify(catalogue, null, 2)}\n` : markdownOf(catalogue);
}

const cell = (text: string): string => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');

function limitsOf(b: CatalogueBinding): string {
  const parts = [
    b.rateLimit === null ? 'no rate limit' : `${b.rateLimit.requestsPerSecond} requests/s (burst ${b.rateLimit.burst})`,
    b.quota === null ? 'no quota' : `${b.quota.requests} requests per ${b.quota.period === 'Day' ? 'UTC day' : 'UTC month'}`,
  ];
  if (b.notBefore !== null || b.notAfter !== null) parts.push(`valid ${b.notBefore ?? 'from the start'} to ${b.notAfter ?? 'no end'}`);
  parts.push(`authenticates with ${b.credentials.join(' or ') || 'no credential'}`);
  return parts.join('; ');
}

function markdownOf(c: Catalogue): string {
  const lines = [c.client === null ? `# Bus ${c.bus}: every inquiry` : `# Bus ${c.bus}: the inquiries of ${c.client.name} (${c.client.id})`, ''];
  for (const b of c.bindings) lines.push(`- Binding ${b.id}: ${limitsOf(b)}.`);
  if (c.bindings.length > 0) lines.push('');
  if (c.inquiries.length === 0) {
    lines.push('No inquiry is granted.', '');
    return lines.join('\n');
  }
  lines.push('| Inquiry | Methods | Path | Tags | Notes |', '| --- | --- | --- | --- | --- |');
  for (const i of c.inquiries) {
    const notes = i.deprecated ? `deprecated${i.sunset === null ? '' : `, sunset ${i.sunset}`}` : '';
    lines.push(`| ${cell(i.summary ?? i.route)} | ${i.methods.join(', ')} | \`${i.path}\` | ${i.tags.join(', ')} | ${notes} |`);
  }
  for (const i of c.inquiries) {
    lines.push('', `## ${i.methods.join(', ')} ${i.path}`, '');
    if (i.summary !== null) lines.push(`${i.summary}`, '');
    if (i.description !== null) lines.push(i.description, '');
    lines.push(`- Route: ${i.route}; timeout ${i.timeoutMs} ms; body up to ${i.maxBodyBytes} bytes${i.validatesBody ? ', checked against a JSON Schema (see the OpenAPI document)' : ''}.`);
    if (i.deprecated) {
      lines.push(`- Deprecated${i.deprecatedSince === null ? '' : ` since ${i.deprecatedSince}`}${i.sunset === null ? '' : `; answers 410 route_sunset from ${i.sunset}`}${i.deprecationLink === null ? '' : `; see ${i.deprecationLink}`}.`);
    }
  }
  lines.push('', `The OpenAPI document: GET ${c.openapi} on the bus, or gozargah catalogue -o openapi.`, '');
  return lines.join('\n');
}
