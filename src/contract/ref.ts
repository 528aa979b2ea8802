import { z } from "zod";

const SEGMENT = "[a-z0-9][a-z0-9-]*";
export const REF_PATTERN = new RegExp(`^(${SEGMENT})/(${SEGMENT})@([0-9]+)$`);

export const RefSchema = z
  .string()
  .regex(REF_PATTERN, "must be namespace/name@version: [a-z0-9][a-z0-9-]* / [a-z0-9][a-z0-9-]* @ [0-9]+");
export type Ref = z.infer<typeof RefSchema>;

export interface RefParts {
  namespace: string;
  name: string;
  version: string;
}

export function parseRef(ref: string): RefParts | undefined {
  const match = REF_PATTERN.exec(ref);
  if (!match) return undefined;
  const [, namespace, name, version] = match as unknown as [string, string, string, string];
  return { namespace, name, version };
}

/**
 * One path segment per ref. Bijective because '.' is in neither the segment nor the version
 * grammar, so the two dots always sit at the same boundaries.
 */
export function refSlug(ref: string): string {
  const parts = parseRef(ref);
  if (!parts) throw new RangeError(`not a ref: ${JSON.stringify(ref)}`);
  return `${parts.namespace}.${parts.name}.${parts.version}`;
}
