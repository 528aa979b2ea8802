import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { freePort } from "../../../scripts/lib/local-stack.ts";
import { startProxyAuthGate } from "../proxy-auth-gate.ts";
import { startTlsTerminator } from "../tls.ts";

const exec = promisify(execFile);
const docker = async (...args: string[]) =>
  (await exec("docker", args, { maxBuffer: 16 * 1024 * 1024 })).stdout.trim();

/** Present locally, or pulled (a local registry such as 127.0.0.1:5000 needs no login). */
export async function ensureImage(image: string): Promise<void> {
  try {
    await docker("image", "inspect", "--format", "{{.Id}}", image);
  } catch {
    try {
      await docker("pull", "-q", image);
    } catch (error) {
      const stderr = String((error as { stderr?: string }).stderr ?? (error as Error).message).trim();
      throw new Error(stderr.split("\n").at(-1) ?? "pull failed");
    }
  }
}

export interface SandboxRuntime {
  containerName: string;
  /** The https URL of the TLS terminator in front of the container's port. */
  tunnelUrl: string;
  /** The env the container really got (PORT remapped, see below). */
  containerEnv: Record<string, string>;
  state(): Promise<{ running: boolean; exitCode: number }>;
  /** The container disappears; the tunnel stays. */
  removeContainer(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * One sandbox as a real container. On Modal every sandbox has its own network namespace; here
 * containers share the host network (no bridge), so the container listens on a free host port
 * (PORT rewritten) and the tunnel maps the requested container port onto it — the processor
 * still gets every other variable exactly as the SDK sent it.
 */
export async function startSandboxContainer(options: {
  id: string;
  image: string;
  env: Record<string, string>;
  containerPort: number;
  milliCpu?: number;
  memoryMb?: number;
  tls: { key: string; cert: string };
  /** The container's command instead of the image's. */
  command?: string[];
  /** A web endpoint that requires proxy auth: the gate admitting only this Modal-Key/Modal-Secret sits behind TLS. */
  proxyAuth?: { key: string; secret: string };
}): Promise<SandboxRuntime> {
  const hostPort = await freePort();
  const containerName = `theory-modal-standin-${options.id}`;
  const containerEnv = { ...options.env, PORT: String(hostPort) };
  await docker(
    "run",
    "-d",
    "--network",
    "host",
    "--name",
    containerName,
    "--label",
    "theory.test=modal-standin",
    ...(options.milliCpu ? ["--cpus", String(options.milliCpu / 1000)] : []),
    ...(options.memoryMb ? ["--memory", `${options.memoryMb}m`] : []),
    ...Object.entries(containerEnv).flatMap(([key, value]) => ["-e", `${key}=${value}`]),
    options.image,
    ...(options.command ?? []),
  );
  const gate = options.proxyAuth
    ? await startProxyAuthGate({ targetPort: hostPort, ...options.proxyAuth })
    : undefined;
  const terminator = await startTlsTerminator({
    targetPort: gate ? Number(new URL(gate.url).port) : hostPort,
    ...options.tls,
  });
  let stopped = false;
  const removeContainer = async () => {
    await docker("rm", "-f", containerName).catch(() => undefined);
  };
  return {
    containerName,
    tunnelUrl: terminator.url,
    containerEnv,
    async state() {
      try {
        const [running, exitCode] = (
          await docker("inspect", "--format", "{{.State.Running}} {{.State.ExitCode}}", containerName)
        ).split(" ");
        return { running: running === "true", exitCode: Number(exitCode) };
      } catch {
        return { running: false, exitCode: 137 };
      }
    },
    removeContainer,
    async stop() {
      if (stopped) return;
      stopped = true;
      await removeContainer();
      await terminator.close();
      await gate?.close();
    },
  };
}
