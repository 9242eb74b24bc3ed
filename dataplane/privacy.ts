// Privacy rules: response fields dropped before the client sees them, and path parameters
// that never reach an audit record. Field paths are compiled once per snapshot.

type Path = readonly string[];

export function compileFieldPaths(paths: readonly string[]): Path[] {
  return paths.map((p) => p.split('.'));
}

function dropPath(value: unknown, path: Path, i: number): void {
  if (value === null || typeof value !== 'object') return;
  const key = path[i] as string;
  const last = i === path.length - 1;
  if (key === '*') {
    const children = Array.isArray(value) ? value : Object.values(value);
    for (const child of children) if (!last) dropPath(child, path, i + 1);
    return;
  }
  if (Array.isArray(value)) {
    // A path through an array applies to each element.
    for (const child of value) dropPath(child, path, i);
    return;
  }
  const obj = value as Record<string, unknown>;
  if (last) delete obj[key];
  else dropPath(obj[key], path, i + 1);
}

/** Removes every listed field from a parsed JSON document, in place. */
export function dropFields(document: unknown, paths: readonly Path[]): void {
  for (const path of paths) dropPath(document, path, 0);
}
