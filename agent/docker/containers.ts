import type Docker from "dockerode";
import type { Resources } from "../../src/contract/tool-registry.ts";
import { TheoryError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/log.ts";
import { memoryMiB } from "../../src/core/tool-registry.ts";
import { dockerStatus } from "./engine.ts";

/** What `localctl start` asks the engine for: one host-network container with declared limits. */
export interface ContainerSpec {
  name: string;
  /** `repository@sha256:…`: containers are created by digest only. */
  image: string;
  env: Record<string, string>;
  labels: Record<string, string>;
  resources: Resources;
  /** `host-path:container-path` bind mounts. */
  binds: string[];
}

export interface ContainerState {
  id: string;
  /** Without Docker's leading slash. */
  name: string;
  running: boolean;
  status: string;
  exitCode: number;
}

/** Docker's container name grammar. */
export const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]+$/;

/** `cpu: 0.25` -> HostConfig.NanoCpus. */
export const nanoCpus = (cpu: number): number => Math.round(cpu * 1e9);

/**
 * A container's log as text: the engine multiplexes stdout and stderr of a container without a TTY
 * into frames (1 byte stream, 3 zero bytes, 4 bytes big-endian length); anything else is plain text.
 */
export function demuxLogs(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset < buffer.length) {
    const header = buffer.subarray(offset, offset + 8);
    const multiplexed =
      header.length === 8 && (header[0] ?? 255) <= 2 && header[1] === 0 && header[2] === 0 && header[3] === 0;
    if (!multiplexed) return buffer.toString("utf8");
    const size = header.readUInt32BE(4);
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}

/**
 * The Docker Engine API calls localctl makes, with the engine's failures mapped to Theory's codes:
 * a missing image is ERR_IMAGE_NOT_FOUND, a name in use ERR_CONFLICT, anything else ERR_DOCKER
 * (the engine's own words go to the log, not into the message).
 */
export class LocalContainers {
  readonly #docker: Docker;
  readonly #log: Logger;

  constructor(docker: Docker, log: Logger) {
    this.#docker = docker;
    this.#log = log;
  }

  /** The container's live state, or undefined when there is no such container. */
  async find(idOrName: string): Promise<ContainerState | undefined> {
    try {
      const info = await this.#docker.getContainer(idOrName).inspect();
      return {
        id: info.Id,
        name: info.Name.replace(/^\//, ""),
        running: info.State.Running,
        status: info.State.Status,
        exitCode: info.State.ExitCode,
      };
    } catch (error) {
      if (dockerStatus(error) === 404) return undefined;
      throw this.#failure("inspect the container", error);
    }
  }

  /** Creates and starts the container; a container it could not start is removed again. */
  async run(spec: ContainerSpec): Promise<string> {
    let id: string;
    try {
      const container = await this.#docker.createContainer({
        name: spec.name,
        Image: spec.image,
        Env: Object.entries(spec.env).map(([key, value]) => `${key}=${value}`),
        Labels: spec.labels,
        HostConfig: {
          NetworkMode: "host",
          NanoCpus: nanoCpus(spec.resources.cpu),
          Memory: memoryMiB(spec.resources.memory) * 1024 ** 2,
          Binds: spec.binds,
        },
      });
      id = container.id;
    } catch (error) {
      if (dockerStatus(error) === 409)
        throw new TheoryError("ERR_CONFLICT", `a container named ${spec.name} already exists`);
      if (dockerStatus(error) === 404)
        throw new TheoryError("ERR_IMAGE_NOT_FOUND", `image ${spec.image} is not present locally`);
      throw this.#failure("create the container", error);
    }
    try {
      await this.#docker.getContainer(id).start();
    } catch (error) {
      await this.remove(id).catch(() => undefined);
      throw this.#failure("start the container", error);
    }
    return id;
  }

  /** Stops (SIGTERM, then SIGKILL after `graceSeconds`) and removes; an absent container is fine. */
  async remove(idOrName: string, graceSeconds = 5): Promise<void> {
    const container = this.#docker.getContainer(idOrName);
    try {
      await container.stop({ t: graceSeconds });
    } catch (error) {
      // 304: already stopped; 404: already gone.
      const status = dockerStatus(error);
      if (status !== 304 && status !== 404) throw this.#failure("stop the container", error);
    }
    try {
      await container.remove({ force: true });
    } catch (error) {
      if (dockerStatus(error) !== 404) throw this.#failure("remove the container", error);
    }
  }

  /** stdout and stderr, interleaved as written; `tail` limits to the last lines. */
  async logs(idOrName: string, tail?: number): Promise<string> {
    try {
      const buffer = await this.#docker.getContainer(idOrName).logs({
        stdout: true,
        stderr: true,
        follow: false,
        ...(tail === undefined ? {} : { tail }),
      });
      return demuxLogs(Buffer.isBuffer(buffer) ? buffer : Buffer.from(String(buffer)));
    } catch (error) {
      if (dockerStatus(error) === 404)
        throw new TheoryError("ERR_NOT_FOUND", `container ${idOrName} no longer exists`);
      throw this.#failure("read the container's logs", error);
    }
  }

  #failure(action: string, error: unknown): TheoryError {
    if (error instanceof TheoryError) return error;
    const status = dockerStatus(error);
    this.#log.error("error.docker", {
      action,
      status,
      reason: (error as { json?: { message?: string } }).json?.message ?? (error as Error).message,
    });
    return new TheoryError(
      "ERR_DOCKER",
      `the Docker engine could not ${action}${status ? ` (HTTP ${status})` : ""}; see the log`,
    );
  }
}
