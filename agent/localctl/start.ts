import { chmod, mkdir } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import type { Platform } from "../../src/contract/primitives.ts";
import { refSlug } from "../../src/contract/ref.ts";
import type { ToolRegistry } from "../../src/contract/tool-registry.ts";
import { HEALTH_BACKOFF } from "../../src/core/backoff.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { waitStartedHealthy } from "../../src/core/health.ts";
import type { Logger } from "../../src/core/log.ts";
import { newProcessorToken, PROCESSOR_TOKEN_ENV } from "../../src/core/processor-auth.ts";
import { requireSecrets } from "../../src/core/secrets.ts";
import { envFingerprint, lookupTool, resolveImage } from "../../src/core/tool-registry.ts";
import type { CliConfig } from "../cli/config.ts";
import { CONTAINER_NAME, LocalContainers } from "../docker/containers.ts";
import { connectDocker, ensureEngine } from "../docker/engine.ts";
import { inspectImage } from "../docker/images.ts";
import {
  type ContainerRecord,
  forgetContainer,
  LOCAL_PROBE_TIMEOUT_MS,
  localUrl,
  readContainers,
  recordContainer,
} from "./state.ts";

/** Where `/artifacts/` of local-scope runs lives on this machine. */
export const localArtifactsDir = (home: string): string => join(home, "artifacts");

/** `theory-<ref_slug>`: one container per ref on a machine unless `--name` says otherwise. */
export const defaultContainerName = (ref: string): string => `theory-${refSlug(ref)}`;

export interface LocalDeps {
  config: CliConfig;
  log: Logger;
  signal: AbortSignal;
  /** A line of progress for a person watching (stderr when it is a terminal). */
  progress(line: string): void;
}

export interface StartOptions {
  ref: string;
  platform: Platform;
  /** `IMAGE@sha256:…` instead of the tool registry's pin. */
  oci?: string;
  name?: string;
}

export interface StartResult {
  ref: string;
  platform: Platform;
  container_id: string;
  port: number;
  image_digest: string;
}

function portIsFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ port, host: "127.0.0.1", exclusive: true }, () => server.close(() => resolve(true)));
  });
}

/**
 * `localctl start`: one container for a ref, by digest, with the registry's resources, secrets from
 * the environment, the artifacts directory mounted, healthy before it is reported started. Starts
 * nothing it was not asked to (no pull, no build); checks everything it can before creating.
 */
export async function startLocal(
  registry: ToolRegistry,
  env: NodeJS.ProcessEnv,
  options: StartOptions,
  deps: LocalDeps,
): Promise<StartResult> {
  const { config, log } = deps;
  const tool = lookupTool(registry, options.ref);
  const { image, digest } = resolveImage(registry, options.ref, options.platform, options.oci);
  const name = options.name ?? defaultContainerName(options.ref);
  if (!CONTAINER_NAME.test(name))
    throw new TheoryError("ERR_INPUTS", `--name ${name} is not a container name`);
  const secrets = requireSecrets(
    tool.secrets,
    env,
    `${options.ref} takes it from the environment; nothing was started`,
  );

  const docker = connectDocker(config.dockerSocket);
  await ensureEngine(docker);
  const containers = new LocalContainers(docker, log);
  const found = await inspectImage(docker, image, "docker pull it, or theory imagectl build/push");
  if (found.Architecture !== options.platform) {
    throw new TheoryError(
      "ERR_INPUTS",
      `image ${image} is ${found.Os}/${found.Architecture}, not ${options.platform}`,
    );
  }
  const recorded = (await readContainers(config.home))[options.ref];
  for (const existing of [recorded?.container_id, name]) {
    if (existing === undefined) continue;
    const state = await containers.find(existing);
    if (state?.running)
      throw new TheoryError("ERR_CONFLICT", `${options.ref} is already started; localctl stop first`);
    if (state) await containers.remove(state.id); // a stopped leftover of an earlier start
  }
  if (!(await portIsFree(tool.port))) {
    throw new TheoryError(
      "ERR_CONFLICT",
      `port ${tool.port} of ${options.ref} is in use by another process; stop it or change its port in registry.yaml`,
    );
  }

  const artifacts = localArtifactsDir(config.home);
  await mkdir(artifacts, { recursive: true });
  await chmod(artifacts, 0o777); // the processor image runs as uid 1000
  deps.progress(`starting ${name} from ${image}`);
  // Host networking puts /run on every local user's loopback: only holders of the token may run.
  const processorToken = newProcessorToken();
  const containerId = await containers.run({
    name,
    image,
    env: {
      TOOL_REF: options.ref,
      PORT: String(tool.port),
      // The agent and the CLI reach it on loopback; nothing else on the network needs to.
      HOST: "127.0.0.1",
      IMAGE_DIGEST: digest,
      ENV_FINGERPRINT: envFingerprint(tool.resources),
      ARTIFACTS_ROOT: "/artifacts",
      [PROCESSOR_TOKEN_ENV]: processorToken,
      ...secrets,
    },
    labels: { "theory.ref": options.ref, "theory.image_digest": digest },
    resources: tool.resources,
    binds: [`${artifacts}:/artifacts`],
  });
  log.info("adapter.container.start", { ref: options.ref, container_id: containerId, image_digest: digest });
  const record: ContainerRecord = {
    ref: options.ref,
    platform: options.platform,
    container_id: containerId,
    name,
    port: tool.port,
    image,
    image_digest: digest,
    processor_token: processorToken,
    started_at: new Date().toISOString(),
  };
  // Recorded before the health wait, so an interrupted start can still be stopped.
  await recordContainer(config.home, record);

  deps.progress(`waiting for ${name} to answer /healthz on port ${tool.port}`);
  try {
    await waitStartedHealthy(localUrl(tool.port), `container ${name} on port ${tool.port}`, {
      policy: HEALTH_BACKOFF,
      timeoutMs: LOCAL_PROBE_TIMEOUT_MS,
      alive: async () => (await containers.find(containerId))?.running === true,
      signal: deps.signal,
    });
  } catch (error) {
    const tail = await containers.logs(containerId, 20).catch(() => "");
    log.warn("adapter.health.error", { ref: options.ref, container_id: containerId, stderr_tail: tail });
    await containers.remove(containerId, 1).catch(() => undefined);
    await forgetContainer(config.home, options.ref);
    throw error;
  }
  log.info("adapter.health.ok", { ref: options.ref, container_id: containerId });
  deps.progress(`${name} is healthy`);
  return {
    ref: options.ref,
    platform: options.platform,
    container_id: containerId,
    port: tool.port,
    image_digest: digest,
  };
}

/** `localctl stop`: stop and remove the recorded container, then forget it. */
export async function stopLocal(
  ref: string,
  deps: LocalDeps,
): Promise<{ ref: string; container_id: string }> {
  const record = (await readContainers(deps.config.home))[ref];
  if (!record) throw new TheoryError("ERR_NOT_FOUND", `${ref} is not started here`);
  const docker = connectDocker(deps.config.dockerSocket);
  await ensureEngine(docker);
  deps.progress(`stopping ${record.name}`);
  await new LocalContainers(docker, deps.log).remove(record.container_id);
  await forgetContainer(deps.config.home, ref);
  deps.log.info("adapter.container.stop", { ref, container_id: record.container_id });
  return { ref, container_id: record.container_id };
}
