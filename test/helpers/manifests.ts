// Builds manifests for dataplane tests and writes them where --manifests reads them.
import { mkdtempSync, writeFileSync, renameSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';

type Obj = Record<string, unknown>;
const API = 'gozargah.io/v1alpha1';

export const provider = (name: string, url: string, spec: Obj = {}, ns = 'gov'): Obj => ({
  apiVersion: API,
  kind: 'ServiceProvider',
  metadata: { name, namespace: ns },
  spec: { upstream: { url }, ...spec },
});

export const route = (name: string, providerName: string, path: string, spec: Obj = {}, ns = 'gov'): Obj => ({
  apiVersion: API,
  kind: 'InquiryRoute',
  metadata: { name, namespace: ns },
  spec: { providerRef: { name: providerName }, path, access: { namespaces: { from: 'All' } }, ...spec },
});

export const keySecret = (name: string, keys: Record<string, string>, ns = 'clients'): Obj => ({
  apiVersion: 'v1',
  kind: 'Secret',
  metadata: { name, namespace: ns, labels: { 'gozargah.io/credentials': 'true' } },
  stringData: keys,
});

export const binding = (name: string, clientId: string, routes: Obj[], spec: Obj = {}, ns = 'clients'): Obj => ({
  apiVersion: API,
  kind: 'ClientBinding',
  metadata: { name, namespace: ns },
  spec: { client: { id: clientId, displayName: clientId }, credentials: { apiKeys: { secretRef: { name: `${name}-keys` } } }, routes, ...spec },
});

export function manifestDir(objects: Obj[]): string {
  const dir = mkdtempSync(join(tmpdir(), 'gozargah-manifests-'));
  writeManifests(dir, objects);
  return dir;
}

/** Replaces the manifests atomically (write then rename), as a careful editor or ConfigMap update would. */
export function writeManifests(dir: string, objects: Obj[], file = 'bus.yaml'): void {
  const tmp = join(dir, `.${file}.tmp`);
  writeFileSync(tmp, objects.map((o) => stringify(o)).join('---\n'));
  renameSync(tmp, join(dir, file));
}
