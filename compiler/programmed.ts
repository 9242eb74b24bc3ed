// Programmed means served: a ready dataplane replica of every bus the object is on reports a
// snapshot that contains this object at its current generation.
import { ok, type ConditionInput } from './conditions.ts';
import { generationOf, nsOf, type Meta } from './util.ts';

export function programmedCondition(
  kind: string,
  meta: Meta,
  buses: readonly string[],
  serving: Readonly<Record<string, ReadonlySet<string>>> | undefined,
): ConditionInput {
  const generation = generationOf(meta);
  const key = `${kind}/${nsOf(meta)}/${meta.name}@${generation}`;
  const waiting = buses.filter((bus) => serving?.[bus]?.has(key) !== true);
  if (waiting.length === 0) return ok('Programmed', 'Programmed', `Served by bus ${buses.join(', ')} at generation ${generation}.`);
  return {
    type: 'Programmed',
    status: 'False',
    reason: 'Pending',
    message: `Compiled; waiting for a ready dataplane replica of bus ${waiting.join(', ')} to serve generation ${generation}.`,
  };
}
