export * from './v1.ts';
export { canonicalJSON, snapshotHash } from './hash.ts';
export { checkSnapshot } from './validate.ts';
export { newRouteSchemaAjv, compileRouteSchema } from './routeschema.ts';
