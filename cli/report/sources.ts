// What a source of counts (Redis, audit files) hands the report: usage rows, one at a time, in the
// row type of api/accounting, then the buses it read and what it has to say about its data.
import type { UsageRow } from '../../api/accounting/index.ts';
import type { Period } from './period.ts';

export type RowSink = (row: UsageRow) => void;

/** A line for stderr: `warning: ...` or `note: ...`. */
export type Warn = (line: string) => void;

export interface SourceRequest {
  period: Period;
  /** one bus, or null for every bus the source knows */
  bus: string | null;
  warn: Warn;
}

export interface SourceRead {
  /** the buses the rows are from */
  buses: string[];
  /** notes that belong in the report itself (incomplete or inconsistent data) */
  notes: string[];
}
