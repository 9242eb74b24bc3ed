// The registry of the three kinds: everything the CRD generator, the validator and the
// compiler need to know about a kind besides its schema.
import type { TSchema } from '@sinclair/typebox';
import { ServiceProvider } from './serviceprovider.ts';
import { InquiryRoute } from './inquiryroute.ts';
import { ClientBinding } from './clientbinding.ts';

export interface PrinterColumn {
  name: string;
  type: 'string' | 'integer' | 'date' | 'number' | 'boolean';
  jsonPath: string;
  description?: string;
  priority?: number;
}

export interface KindInfo {
  kind: 'ServiceProvider' | 'InquiryRoute' | 'ClientBinding';
  plural: string;
  singular: string;
  shortNames: string[];
  schema: TSchema;
  printerColumns: PrinterColumn[];
}

const condition = (type: string): string => `.status.conditions[?(@.type=="${type}")].status`;
const age: PrinterColumn = { name: 'Age', type: 'date', jsonPath: '.metadata.creationTimestamp' };
/**
 * kubectl get -o wide: the reason of the first condition that is False (the apiserver shows a
 * column's first match), e.g. ProviderNotFound or Pending; empty when none is.
 */
const reason: PrinterColumn = {
  name: 'Reason',
  type: 'string',
  jsonPath: '.status.conditions[?(@.status=="False")].reason',
  description: 'Reason of the first failing condition',
  priority: 1,
};

export const KINDS: readonly KindInfo[] = [
  {
    kind: 'ServiceProvider',
    plural: 'serviceproviders',
    singular: 'serviceprovider',
    shortNames: ['sp', 'gzsp'],
    schema: ServiceProvider,
    printerColumns: [
      { name: 'Upstream', type: 'string', jsonPath: '.spec.upstream.url' },
      { name: 'Routes', type: 'integer', jsonPath: '.status.routes' },
      { name: 'Ready', type: 'string', jsonPath: condition('Ready') },
      reason,
      age,
    ],
  },
  {
    kind: 'InquiryRoute',
    plural: 'inquiryroutes',
    singular: 'inquiryroute',
    shortNames: ['ir', 'gzir'],
    schema: InquiryRoute,
    printerColumns: [
      { name: 'Provider', type: 'string', jsonPath: '.spec.providerRef.name' },
      { name: 'Path', type: 'string', jsonPath: '.spec.path' },
      { name: 'Buses', type: 'string', jsonPath: '.status.buses' },
      { name: 'Clients', type: 'integer', jsonPath: '.status.boundClients', description: 'Accepted bindings granted this route' },
      { name: 'Programmed', type: 'string', jsonPath: condition('Programmed') },
      reason,
      age,
    ],
  },
  {
    kind: 'ClientBinding',
    plural: 'clientbindings',
    singular: 'clientbinding',
    shortNames: ['cb', 'gzcb'],
    schema: ClientBinding,
    printerColumns: [
      { name: 'Client', type: 'string', jsonPath: '.spec.client.id' },
      { name: 'Bus', type: 'string', jsonPath: '.spec.bus', priority: 1 },
      { name: 'Routes', type: 'string', jsonPath: '.status.routes', description: 'granted/requested' },
      { name: 'Rate', type: 'integer', jsonPath: '.spec.rateLimit.requestsPerSecond', description: 'requests per second' },
      { name: 'Quota', type: 'string', jsonPath: '.status.usage.quota', description: 'used/limit this period' },
      { name: 'Ready', type: 'string', jsonPath: condition('Ready') },
      reason,
      age,
    ],
  },
];

export const CATEGORY = 'gozargah';

export function kindInfo(kind: string): KindInfo | undefined {
  return KINDS.find((k) => k.kind === kind);
}
