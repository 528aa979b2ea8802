import { join } from "node:path";
import { z } from "zod";
import { ProcessorTokenSchema } from "../../src/contract/primitives.ts";
import { RefSchema } from "../../src/contract/ref.ts";
import { readStateFile, writeStateFile } from "../cli/state-file.ts";

/** The kinds of Modal endpoint a ref can have: a sandbox (`start`). */
export type EndpointKind = "sandbox";

/**
 * The processor tokens modalctl made, per ref and kind, kept so `modalctl run` can send them: a
 * sandbox's is made by each `start`.
 */
const TokensSchema = z.strictObject({
  tokens: z.record(RefSchema, z.strictObject({ sandbox: ProcessorTokenSchema.optional() })),
});

const tokensFile = (home: string) => join(home, "modal", "tokens.json");

export async function readModalToken(
  home: string,
  ref: string,
  kind: EndpointKind,
): Promise<string | undefined> {
  const { tokens } = await readStateFile(tokensFile(home), TokensSchema, { tokens: {} });
  return tokens[ref]?.[kind];
}

export async function storeModalToken(
  home: string,
  ref: string,
  kind: EndpointKind,
  token: string,
): Promise<void> {
  const { tokens } = await readStateFile(tokensFile(home), TokensSchema, { tokens: {} });
  await writeStateFile(tokensFile(home), { tokens: { ...tokens, [ref]: { ...tokens[ref], [kind]: token } } });
}
