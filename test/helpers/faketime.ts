// A process whose wall clock runs behind, through Debian's libfaketime (LD_PRELOAD): audit
// records dated on earlier days, written by a real dataplane. The monotonic clock is left
// alone, so timers and timeouts behave. `make test` installs the faketime package.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const LIB_DIRS = ['/usr/lib/x86_64-linux-gnu/faketime', '/usr/lib/aarch64-linux-gnu/faketime', '/usr/lib/faketime'];

/** The environment that puts a child's wall clock `days` days back; throws when libfaketime is missing. */
export function daysAgo(days: number): NodeJS.ProcessEnv {
  const dir = LIB_DIRS.find((d) => existsSync(d) && readdirSync(d).includes('libfaketime.so.1'));
  if (dir === undefined) throw new Error('libfaketime is not installed (make test installs the faketime package)');
  return { LD_PRELOAD: join(dir, 'libfaketime.so.1'), FAKETIME: `-${days}d`, FAKETIME_DONT_FAKE_MONOTONIC: '1', FAKETIME_NO_CACHE: '1' };
}
