// The two ways `gozargah report` fails, both exit 2 with one line naming what is wrong:
// a usage error (the command line; the usage follows) and a failure (Redis, a file, a bus).
export class ReportUsageError extends Error {}
export class ReportFailure extends Error {}
