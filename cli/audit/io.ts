// Where an audit command writes and reads: the process's streams, or a test's.
import type { Readable } from 'node:stream';

export interface AuditIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  stdin: Readable;
}

export const processIo: AuditIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  stdin: process.stdin,
};
