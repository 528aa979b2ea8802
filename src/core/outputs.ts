/** Code-unit order, the same order RFC 8785 uses for object keys: locale-free and total. */
export function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Outputs (or anything with a path) in canonical order. */
export function sortByPath<T extends { path: string }>(items: readonly T[]): T[] {
  return [...items].sort((a, b) => compareCodeUnits(a.path, b.path));
}

export function isSortedUnique(paths: readonly string[]): boolean {
  return paths.every((path, i) => i === 0 || compareCodeUnits(paths[i - 1] as string, path) < 0);
}
