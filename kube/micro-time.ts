// Lease times are MicroTime: the API server refuses a plain Date's milliseconds in a Lease.
import { V1MicroTime } from '@kubernetes/client-node';

export function microTime(at: Date | string | number): V1MicroTime {
  return new V1MicroTime(new Date(at).getTime());
}
