import type { ProcessorFrame } from "../../src/contract/frames.ts";
import type { ToolRegistry } from "../../src/contract/tool-registry.ts";
import { canonicalJson } from "../../src/core/canonical.ts";
import { buildErrorEnvelope } from "../../src/core/envelope.ts";
import { envFingerprint, lookupTool } from "../../src/core/tool-registry.ts";
import { planRun } from "../../src/engine/run-plan.ts";
import {
  DIRECT_WORLD,
  type DirectRunRequest,
  type DirectRunResult,
  runAtEndpoint,
} from "../direct-run/run.ts";
import { LocalContainers } from "../docker/containers.ts";
import { connectDocker, dockerStatus } from "../docker/engine.ts";
import type { LocalDeps } from "./start.ts";
import { type ContainerRecord, localUrl, readContainers } from "./state.ts";

/** Why the recorded container cannot take a run, or undefined when it can (or Docker cannot tell). */
async function notRunning(record: ContainerRecord, deps: LocalDeps): Promise<string | undefined> {
  try {
    const state = await new LocalContainers(connectDocker(deps.config.dockerSocket), deps.log).find(
      record.container_id,
    );
    return state?.running ? undefined : `container ${record.name} is ${state ? state.status : "gone"}`;
  } catch (error) {
    // No engine to ask (or it failed): the health check over HTTP decides instead.
    deps.log.debug("adapter.container.inspect", { ref: record.ref, status: dockerStatus(error) });
    return undefined;
  }
}

/**
 * `localctl run`: the same orchestrator core the RunSession uses (plan, one theory.run.v1 session
 * with health and bounded retry before Ack, invariants, canonical envelope), against the container
 * `localctl start` recorded, in local artifact scope. Never starts anything: a ref that is not
 * started settles ERR_HEALTH. Never throws for a run failure: that is an error envelope.
 */
export async function runLocal(
  registry: ToolRegistry,
  request: DirectRunRequest,
  deps: LocalDeps & { onFrame?(frame: ProcessorFrame, text: string): void },
): Promise<DirectRunResult> {
  const tool = lookupTool(registry, request.ref);
  const record = (await readContainers(deps.config.home))[request.ref];
  const problem = record ? await notRunning(record, deps) : undefined;
  if (!record || problem) {
    const hint = `theory localctl start --ref ${request.ref} --platform ${record?.platform ?? "P"}`;
    const envelope = buildErrorEnvelope({
      runId: request.run_id,
      error: { code: "ERR_HEALTH", message: `not started${problem ? ` (${problem})` : ""}: ${hint}` },
      envFingerprint: envFingerprint(tool.resources),
    });
    return { envelope, text: canonicalJson(envelope) };
  }
  const plan = await planRun(
    { ...request, target: "local", artifact_scope: "local" },
    { toolRegistry: registry, worldId: DIRECT_WORLD, platform: record.platform },
  );
  const log = deps.log.child({ target: "local", ref: request.ref, execution_id: request.run_id });
  log.info("adapter.selected", { port: record.port });
  return runAtEndpoint(plan, {
    resolve: async () => ({
      url: localUrl(record.port),
      token: record.processor_token,
      image_digest: record.image_digest,
    }),
    log,
    signal: deps.signal,
    onFrame: deps.onFrame,
  });
}
