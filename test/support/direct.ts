import { defaultWritePrefix } from "../../src/core/paths.ts";
import { processorAuthHeaders } from "../../src/core/processor-auth.ts";
import { TEST_PROCESSOR_TOKEN } from "./tokens.ts";

/**
 * What the processor itself answers on POST /run for this run (mock mode, local scope, default
 * prefix): the bytes a control plane must reproduce exactly. Only fetch, so Node and workerd tests
 * both use it.
 */
export async function directEnvelope(
  processorUrl: string,
  ref: string,
  runId: string,
  inputs: object,
  token = TEST_PROCESSOR_TOKEN,
): Promise<string> {
  const response = await fetch(`${processorUrl}/run`, {
    method: "POST",
    headers: { "content-type": "application/json", ...processorAuthHeaders(token) },
    body: JSON.stringify({
      run_id: runId,
      mode: "mock",
      inputs,
      write_prefix: defaultWritePrefix(ref, runId),
      settle: "fast",
    }),
  });
  return response.text();
}
