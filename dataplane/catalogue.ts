// The bus's own documents for an authenticated client: its catalogue (what it may call, its
// limits and its quota used) and the OpenAPI document of exactly those inquiries. Built from
// the runtime's snapshot once per binding and load, not per request: a client polling its
// catalogue costs a cache lookup and one small JSON encoding.
import { createHash } from 'node:crypto';
import { CATALOGUE_PATH, catalogueOf, OPENAPI_PATH, openApiOf } from '../api/catalogue/index.ts';
import { BUS_DOCUMENTS_PROVIDER } from '../api/accounting/index.ts';
import type { SnapshotBinding } from '../api/snapshot/index.ts';
import type { BindingContext, Runtime } from './runtime.ts';

/** What the metering records a document as: served by the bus itself, not by an agency. */
export const DOCUMENTS_PROVIDER = BUS_DOCUMENTS_PROVIDER;
export const DOCUMENT_ROUTES = { [CATALOGUE_PATH]: 'gozargah/catalogue', [OPENAPI_PATH]: 'gozargah/openapi' } as const;
export type DocumentPath = keyof typeof DOCUMENT_ROUTES;

export const isDocumentPath = (path: string): path is DocumentPath => path === CATALOGUE_PATH || path === OPENAPI_PATH;

interface Documents {
  /** the catalogue without its usage, JSON-encoded once */
  catalogue: string;
  openapi: Buffer;
  etag: string;
  /** wall ms when a granted route's sunset passes and the documents must be built again */
  validUntil: number;
}

/** Documents per binding of one runtime; bounded, so a bus of thousands of clients keeps only the recent ones. */
const MAX_CACHED = 512;
const cache = new WeakMap<Runtime, Map<string, Documents>>();

export function documentsFor(runtime: Runtime, binding: BindingContext, wall: number): Documents {
  let perBinding = cache.get(runtime);
  if (perBinding === undefined) cache.set(runtime, (perBinding = new Map()));
  const known = perBinding.get(binding.id);
  if (known !== undefined && wall < known.validUntil) return known;
  const entry = runtime.snapshot.bindings.find((b) => b.id === binding.id) as SnapshotBinding;
  const listed = catalogueOf(runtime.snapshot, [entry], wall);
  const openapi = Buffer.from(JSON.stringify(openApiOf(runtime.snapshot, [entry], { now: wall })));
  // The catalogue lists the granted routes not yet past their sunset: the first of those sunsets ends these documents.
  let validUntil = Number.POSITIVE_INFINITY;
  for (const i of listed.inquiries) if (i.sunset !== null) validUntil = Math.min(validUntil, Date.parse(i.sunset));
  const documents = { catalogue: JSON.stringify(listed), openapi, etag: `"${createHash('sha256').update(openapi).digest('base64url').slice(0, 27)}"`, validUntil };
  if (perBinding.size >= MAX_CACHED) perBinding.delete(perBinding.keys().next().value as string);
  perBinding.set(binding.id, documents);
  return documents;
}

/** The catalogue with the binding's quota as this replica knows it (the fleet's, with Redis). */
export function catalogueBody(documents: Documents, binding: BindingContext, wall: number): Buffer {
  const quota = binding.quota;
  const usage =
    quota === null
      ? null
      : { period: quota.periodLabel(), used: Math.round(quota.usedRatio(wall) * quota.limit), limit: quota.limit };
  // The cached catalogue is an object; its closing brace makes room for usage.
  return Buffer.from(`${documents.catalogue.slice(0, -1)},"usage":${JSON.stringify(usage)}}`);
}
