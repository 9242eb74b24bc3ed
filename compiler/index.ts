export { compile } from './compile.ts';
export { quotaPeriod } from './usage.ts';
export type { CompileInput, CompileOutput, StatusEntry, ObjectStatus, SecretObject, NamespaceObject, InputObject } from './types.ts';
export { parseManifests, isKnownKind, kindMistake, type ManifestFile, type ManifestObject, type ManifestError, type ParsedManifests } from './manifests.ts';
