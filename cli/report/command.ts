// `gozargah report`: read the period's counts from Redis or audit files, aggregate, render.
// Throws ReportUsageError or ReportFailure; cli/main.ts turns them into exit 2.
import type { UsageRow } from '../../api/accounting/index.ts';
import { buildReport, Tally } from './aggregate.ts';
import { parseReportArgs } from './args.ts';
import { readAudit } from './audit-source.ts';
import { readRedis } from './redis-source.ts';
import { render } from './render.ts';
import type { SourceRequest } from './sources.ts';

export interface ReportIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
}

const processIo: ReportIo = {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
};

export async function report(argv: string[], io: ReportIo = processIo): Promise<number> {
  const options = parseReportArgs(argv, io.env);
  const tally = new Tally();
  const sink = (row: UsageRow): void => tally.add(row);
  const req: SourceRequest = { period: options.period, bus: options.bus, warn: (line) => io.stderr(`${line}\n`) };
  const read = options.source.kind === 'redis' ? await readRedis(options.source, req, sink) : await readAudit(options.source.files, req, sink);
  const r = buildReport(tally.rows(), { period: options.period, buses: read.buses, top: options.top, notes: read.notes });
  io.stdout(render(r, options.format));
  return 0;
}
