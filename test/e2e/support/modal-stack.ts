// What the Modal end-to-end files share: the real CLI as a subprocess, https that trusts the test
// CA, control planes under wrangler dev on free ports, images pushed to the local registry.
import { spawn } from "node:child_process";
import { request } from "node:https";
import { join } from "node:path";
import { freePort, type LocalProcess, startControlPlane } from "../../../scripts/lib/local-stack.ts";
import { docker } from "./docker.ts";

const ROOT = join(import.meta.dirname, "..", "..", "..");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
  json: any;
}

/** `theory ARGS --json` as a subprocess, with `env` over this process's environment. */
export function runTheory(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(ROOT, "agent/bin/theory.js"), ...args, "--json"], {
      cwd: ROOT,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk) => (stdout += chunk));
    child.stderr.on("data", (chunk) => (stderr += chunk));
    child.on("error", reject);
    child.on("close", (code) => {
      let json: any;
      try {
        json = JSON.parse(stdout);
      } catch {
        json = undefined;
      }
      resolve({ code, stdout, stderr, json });
    });
  });
}

/** One request over https trusting only `ca` (this process started without NODE_EXTRA_CA_CERTS). */
export function httpsRequest(
  url: string,
  ca: string,
  init: { method?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    request(url, { ca, method: init.method ?? "GET", headers: init.headers }, (response) => {
      let body = "";
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () => resolve({ status: response.statusCode ?? 0, body }));
    })
      .on("error", reject)
      .end(init.body);
  });
}

/** A control plane under wrangler dev on a free port; one retry if the port was taken meanwhile. */
export async function startCp(
  vars: Record<string, string>,
  env?: Record<string, string>,
): Promise<LocalProcess> {
  try {
    return await startControlPlane({ port: await freePort(), vars, env });
  } catch {
    return startControlPlane({ port: await freePort(), vars, env });
  }
}

/** Tags `image` as `repository:tag`, pushes it to the local registry and answers its manifest digest. */
export async function pushImage(image: string, repository: string, tag: string): Promise<string> {
  await docker("tag", image, `${repository}:${tag}`);
  await docker("push", "-q", `${repository}:${tag}`);
  const repoDigests = JSON.parse(
    await docker("image", "inspect", "--format", "{{json .RepoDigests}}", `${repository}:${tag}`),
  ) as string[];
  return repoDigests.find((entry) => entry.startsWith(`${repository}@`))?.split("@")[1] ?? "";
}
