// The two ways an audit command stops with exit 2, each with one line naming what is wrong: a
// usage error (the command line; the usage follows) and a failure (a file or key that cannot be
// read). A record that does not verify is neither: it is the verifier's finding (exit 1).
export class AuditUsageError extends Error {}
export class AuditFailure extends Error {}
