// Reading the status code of a failed Kubernetes API call.
import { ApiException } from '@kubernetes/client-node';

/** True when err is the apiserver answering `code` (404 Not Found, 409 Conflict, ...). */
export const isCode = (err: unknown, code: number): boolean => err instanceof ApiException && err.code === code;
