import { join } from "node:path";
import { z } from "zod";
import { ProcessorTokenSchema } from "../../src/contract/primitives.ts";
import { RefSchema } from "../../src/contract/ref.ts";
import { newProcessorToken } from "../../src/core/processor-auth.ts";
import { readStateFile, writeStateFile } from "../cli/state-file.ts";

/** The two kinds of Modal endpoint a ref can have: a sandbox (`start`) or a web endpoint (`start --web`). */
export type EndpointKind = "sandbox" | "web";

/**
 * The processor tokens modalctl made, per ref and kind, kept so `modalctl run` can send them: a
 * sandbox's is made by each `start`, a web endpoint's once by `sync-secrets` (it lives in a Modal
 * secret every container of the deployment reads). Modal never gives a secret's value back.
 */
const TokensSchema = z.strictObject({
  tokens: z.record(
    RefSchema,
    z.strictObject({ sandbox: ProcessorTokenSchema.optional(), web: ProcessorTokenSchema.optional() }),
  ),
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

/** The ref's web token, made and kept on first use (later calls give the same one). */
export async function ensureWebToken(home: string, ref: string): Promise<string> {
  const existing = await readModalToken(home, ref, "web");
  if (existing) return existing;
  const token = newProcessorToken();
  await storeModalToken(home, ref, "web", token);
  return token;
}
