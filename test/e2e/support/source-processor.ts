import { join } from "node:path";
import { recordContainer } from "../../../agent/localctl/state.ts";
import { freePort, type ProcessorProcess, startProcessorProcess } from "../../../scripts/lib/local-stack.ts";

/**
 * llm/litellm@1 from source on a free port, recorded under `home` the way `localctl start` records
 * a container: the agent only reads that record (how the processor was started is not its concern).
 */
export async function startRecordedProcessor(
  dir: string,
  home: string,
  digest: string,
): Promise<ProcessorProcess> {
  const processor = await startProcessorProcess({
    toolRef: "llm/litellm@1",
    port: await freePort(),
    env: {
      IMAGE_DIGEST: digest,
      ENV_FINGERPRINT: "cpu:1;memory:2Gi",
      ARTIFACTS_ROOT: join(dir, "artifacts"),
    },
  });
  await recordContainer(home, {
    ref: "llm/litellm@1",
    platform: "amd64",
    container_id: "source-run",
    name: "theory-llm.litellm.1",
    port: Number(new URL(processor.url).port),
    image: `127.0.0.1:5000/theory/processor@${digest}`,
    image_digest: digest,
    processor_token: processor.token,
    started_at: new Date().toISOString(),
  });
  return processor;
}
