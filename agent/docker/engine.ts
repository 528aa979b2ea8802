import Docker from "dockerode";
import { TheoryError } from "../../src/core/errors.ts";

/** The Docker Engine API client on the configured socket. */
export function connectDocker(socketPath: string): Docker {
  return new Docker({ socketPath });
}

/** Fails fast with ERR_DOCKER when the engine does not answer (absent, stopped, no permission). */
export async function ensureEngine(docker: Docker): Promise<void> {
  try {
    await docker.ping();
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const hint =
      code === "EACCES" ? "no permission on the Docker socket" : "the Docker engine is not reachable";
    throw new TheoryError(
      "ERR_DOCKER",
      `${hint} (start dockerd, or set DOCKER_HOST=unix:///path/to/docker.sock)`,
    );
  }
}

/** The HTTP status of a Docker Engine API error, if it is one. */
export const dockerStatus = (error: unknown): number | undefined =>
  (error as { statusCode?: number }).statusCode;
