// Route matching on method + path template with a segment trie: the cost depends on the
// path's depth, not on the number of routes. Static segments win over parameters.

export interface RouteMatch<T> {
  /** the routes at this path, by method */
  methods: Map<string, T>;
  /** "GET, HEAD" for the Allow header */
  allow: string;
}

interface Node<T> {
  children: Map<string, Node<T>>;
  param: Node<T> | null;
  leaf: RouteMatch<T> | null;
}

const newNode = <T>(): Node<T> => ({ children: new Map(), param: null, leaf: null });

export class Router<T> {
  #root: Node<T> = newNode();

  /** Adds a route; the compiler already refused conflicting templates. */
  add(template: string, methods: readonly string[], value: T): void {
    // Parameters are positional: each route maps positions to its own names (routes at one
    // path may name them differently, on disjoint methods).
    let node = this.#root;
    for (const segment of template.slice(1).split('/')) {
      if (segment.startsWith('{')) {
        node = node.param ??= newNode();
      } else {
        let next = node.children.get(segment);
        if (next === undefined) node.children.set(segment, (next = newNode()));
        node = next;
      }
    }
    node.leaf ??= { methods: new Map(), allow: '' };
    for (const m of methods) node.leaf.methods.set(m, value);
    node.leaf.allow = [...node.leaf.methods.keys()].sort().join(', ');
  }

  /**
   * Finds the routes for already-validated path segments; fills `params` with the decoded
   * values of the template's parameters in order.
   */
  find(segments: readonly string[], params: string[]): RouteMatch<T> | null {
    return this.#walk(this.#root, segments, 0, params);
  }

  #walk(node: Node<T>, segments: readonly string[], i: number, params: string[]): RouteMatch<T> | null {
    if (i === segments.length) return node.leaf;
    const segment = segments[i] as string;
    const child = node.children.get(segment);
    if (child !== undefined) {
      const found = this.#walk(child, segments, i + 1, params);
      if (found !== null) return found;
    }
    if (node.param !== null && segment.length > 0) {
      params.push(segment);
      const found = this.#walk(node.param, segments, i + 1, params);
      if (found !== null) return found;
      params.pop();
    }
    return null;
  }
}

/** Why a raw request path is refused, or null when it is unambiguous. */
export function pathProblem(rawPath: string): string | null {
  if (rawPath.charCodeAt(0) !== 47 /* / */) return 'the path must start with /';
  if (rawPath.includes('//')) return 'empty path segments (//) are ambiguous';
  if (rawPath.includes('\\')) return 'backslashes are not allowed in paths';
  if (rawPath.includes('%')) {
    const lower = rawPath.toLowerCase();
    if (lower.includes('%2f') || lower.includes('%5c')) return 'encoded slashes (%2F, %5C) are not allowed';
    if (lower.includes('%2e')) return 'encoded dots (%2E) are not allowed';
    if (lower.includes('%00')) return 'encoded NUL (%00) is not allowed';
    if (/%(?![0-9a-f]{2})/i.test(rawPath)) return 'malformed percent-encoding';
  }
  if (/\/\.\.?(\/|$)/.test(rawPath)) return '. and .. segments are not allowed';
  return null;
}

/** Splits a checked path into decoded segments; null when a segment is not valid UTF-8. */
export function splitPath(rawPath: string): string[] | null {
  const segments = rawPath.slice(1).split('/');
  if (!rawPath.includes('%')) return segments;
  try {
    for (let i = 0; i < segments.length; i++) segments[i] = decodeURIComponent(segments[i] as string);
    return segments;
  } catch {
    return null;
  }
}
