// Usage rows from the fleet's Redis: the day hashes of every day in the period (so a month and
// the range of its days agree), for one bus or every bus in gozargah:buses. For a month, the
// month hash is read too and compared: a difference means day figures expired or were lost.
import { connectRedis, listBuses, readUsage, redisPassword, redisTarget, RedisUrlError, usageKey, type Redis, type RedisTarget, type UsageRow } from '../../api/accounting/index.ts';
import { ReportFailure } from './errors.ts';
import type { RowSink, SourceRead, SourceRequest } from './sources.ts';

/** A month's hash of a busy bus is large: give a command longer than the dataplane's 2 s. */
const COMMAND_TIMEOUT_MS = 30_000;

function target(url: string, passwordFile: string | null): RedisTarget {
  try {
    return redisTarget(url, redisPassword(passwordFile));
  } catch (err) {
    if (err instanceof RedisUrlError) throw new ReportFailure(err.message);
    throw err;
  }
}

async function connect(t: RedisTarget): Promise<Redis> {
  const redis = connectRedis(t, 'gozargah-report', COMMAND_TIMEOUT_MS);
  let lastError: Error | null = null;
  // ioredis reports the cause (ECONNREFUSED, WRONGPASS, ...) as an event; connect() only says "closed".
  redis.on('error', (err: Error) => (lastError = err));
  try {
    await redis.connect();
    return redis;
  } catch (err) {
    redis.disconnect();
    throw new ReportFailure(`cannot reach Redis at ${t.display}: ${(lastError ?? (err as Error)).message}`);
  }
}

const validCount = (row: UsageRow): boolean => Number.isSafeInteger(row.count) && row.count >= 0;

export async function readRedis(source: { url: string; passwordFile: string | null }, req: SourceRequest, sink: RowSink): Promise<SourceRead> {
  const t = target(source.url, source.passwordFile);
  const redis = await connect(t);
  try {
    const known = await listBuses(redis);
    if (req.bus !== null && !known.includes(req.bus)) {
      throw new ReportFailure(`unknown bus ${req.bus}: Redis at ${t.display} has usage of ${known.length === 0 ? 'no bus yet' : known.join(', ')}`);
    }
    const buses = req.bus === null ? known : [req.bus];
    const notes: string[] = [];
    let invalid = 0;
    for (const bus of buses) {
      let dayTotal = 0;
      for (const row of await readUsage(redis, bus, req.period.days)) {
        if (!validCount(row)) {
          invalid++;
          continue;
        }
        dayTotal += row.count;
        sink(row);
      }
      if (req.period.month !== null) {
        const monthTotal = (await readUsage(redis, bus, [req.period.month])).reduce((sum, row) => sum + (validCount(row) ? row.count : 0), 0);
        if (monthTotal !== dayTotal) {
          notes.push(`Bus ${bus}: the day figures sum to ${dayTotal} transactions, the month figure (${usageKey(bus, req.period.month)}) says ${monthTotal}; day figures are kept 400 days. This report counts the days.`);
        }
      }
    }
    if (invalid > 0) {
      req.warn(`warning: ${invalid} usage field(s) in Redis hold no whole number and are not counted`);
      notes.push(`${invalid} usage field(s) in Redis held no whole number and are not counted.`);
    }
    return { buses, notes };
  } catch (err) {
    if (err instanceof ReportFailure) throw err;
    throw new ReportFailure(`reading Redis at ${t.display} failed: ${(err as Error).message}`);
  } finally {
    redis.disconnect();
  }
}
