// `gozargah audit`: verify the audit files' evidence, search them for one person's lookups, and
// print the public key that verifies them. Errors become exit 2 here, with the usage after a
// usage error, so cli/main.ts only dispatches.
import { AuditFailure, AuditUsageError } from './errors.ts';
import { processIo, type AuditIo } from './io.ts';
import { PUBLIC_KEY_USAGE, publicKeyCommand } from './public-key-command.ts';
import { SEARCH_USAGE, searchCommand } from './search-command.ts';
import { VERIFY_USAGE, verifyCommand } from './verify-command.ts';

export const AUDIT_USAGE = `Usage:
${VERIFY_USAGE}

${SEARCH_USAGE}

${PUBLIC_KEY_USAGE}`;

const COMMANDS: Record<string, { run: (argv: string[], io: AuditIo) => number | Promise<number>; usage: string }> = {
  verify: { run: verifyCommand, usage: VERIFY_USAGE },
  search: { run: searchCommand, usage: SEARCH_USAGE },
  'public-key': { run: publicKeyCommand, usage: PUBLIC_KEY_USAGE },
};

const isHelp = (arg: string | undefined): boolean => arg === 'help' || arg === '--help' || arg === '-h';

export async function audit(argv: string[], io: AuditIo = processIo): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || isHelp(name)) {
    io[name === undefined ? 'stderr' : 'stdout'](`${AUDIT_USAGE}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = COMMANDS[name];
  if (command === undefined) {
    io.stderr(`gozargah audit: unknown command ${JSON.stringify(name)}: verify, search or public-key\n${AUDIT_USAGE}\n`);
    return 2;
  }
  if (rest.some((a) => a === '--help' || a === '-h')) {
    io.stdout(`Usage:\n${command.usage}\n`);
    return 0;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof AuditUsageError) {
      io.stderr(`gozargah audit ${name}: ${err.message}\nUsage:\n${command.usage}\n`);
      return 2;
    }
    if (err instanceof AuditFailure) {
      io.stderr(`gozargah audit ${name}: ${err.message}\n`);
      return 2;
    }
    throw err;
  }
}
