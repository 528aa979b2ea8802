import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { promisify } from "node:util";
import type { TestProject } from "vitest/node";
import { docker } from "./support/docker.ts";

const exec = promisify(execFile);
const root = join(import.meta.dirname, "..", "..");
/** One tag per checkout: two checkouts testing at once on one engine must not share an image. */
export const PROCESSOR_IMAGE = `theory/processor:e2e-${createHash("sha256").update(root).digest("hex").slice(0, 12)}`;

/**
 * Provisions what the end-to-end tests need on a fresh machine: a Docker engine (installed and
 * started when absent), a local OCI registry on 127.0.0.1:5000, the local Node base image (no
 * pulls here), and the processor image built from processor/Dockerfile.
 */
export default async function setup(project: TestProject) {
  const step = async (file: string, args: string[]) => {
    const { stderr } = await exec(file, args, { cwd: root, maxBuffer: 64 * 1024 * 1024 }).catch((error) => {
      throw new Error(`${[file, ...args].join(" ")} failed:\n${error.stderr ?? error.message}`);
    });
    return stderr;
  };
  await step("bash", ["scripts/docker/ensure-engine.sh"]);
  await step("bash", ["scripts/docker/ensure-image-registry.sh"]);
  await step("bash", ["scripts/docker/make-node-base.sh"]);
  await step(process.execPath, ["scripts/build-processor.ts"]);
  await docker(
    "build",
    "-q",
    "-f",
    "processor/Dockerfile",
    "--build-arg",
    "BASE_IMAGE=theory/node-base:24",
    "-t",
    PROCESSOR_IMAGE,
    join(root, "dist/processor"),
  );
  project.provide("processorImage", PROCESSOR_IMAGE);
  project.provide(
    "processorImageId",
    await docker("image", "inspect", "--format", "{{.Id}}", PROCESSOR_IMAGE),
  );
}

declare module "vitest" {
  export interface ProvidedContext {
    processorImage: string;
    processorImageId: string;
  }
}
