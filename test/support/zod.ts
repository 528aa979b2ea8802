import { expect } from "vitest";
import type { z } from "zod";

/** Asserts that `value` fails `schema` and that one issue points at `path`. */
export function expectIssueAt(schema: z.ZodType, value: unknown, path: PropertyKey[]): void {
  const result = schema.safeParse(value);
  expect(result.success, `expected failure at ${path.join(".")}`).toBe(false);
  const paths = result.error?.issues.map((issue) => issue.path) ?? [];
  expect(paths).toContainEqual(path);
}
