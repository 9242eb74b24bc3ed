// A CEL rule is declared once, with the TypeScript predicate that means the same thing.
// The CRD carries the CEL text (kube-apiserver enforces it at `kubectl apply`); the
// `gozargah` CLI and the compiler run the predicate, so a manifest checked offline is
// refused for the same reason, with the same message, as it would be by the cluster.

export interface CelRule {
  rule: string;
  message: string;
}

type Predicate = (self: never) => boolean;

const predicates = new Map<string, Predicate>();

/** Declares a CEL rule and the predicate that mirrors it. */
export function cel<T>(rule: string, message: string, check: (self: T) => boolean): CelRule {
  const known = predicates.get(rule);
  if (known !== undefined && known !== (check as Predicate)) {
    throw new Error(`CEL rule declared twice with different predicates: ${rule}`);
  }
  predicates.set(rule, check as Predicate);
  return { rule, message };
}

/** The predicate declared with a rule; undefined for a rule nobody declared. */
export function predicateFor(rule: string): ((self: unknown) => boolean) | undefined {
  return predicates.get(rule) as ((self: unknown) => boolean) | undefined;
}
