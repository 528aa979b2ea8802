import { join } from "node:path";
import { z } from "zod";
import { DigestSchema, PlatformSchema, ProcessorTokenSchema } from "../../src/contract/primitives.ts";
import { RefSchema } from "../../src/contract/ref.ts";
import { probeHealth } from "../../src/core/health.ts";
import { readStateFile, writeStateFile } from "../cli/state-file.ts";

/** A recorded container's base URL: containers run on the host network, bound to loopback. */
export const localUrl = (port: number): string => `http://127.0.0.1:${port}`;

/** One health probe of a recorded container (localctl start and status): loopback answers at once. */
export const LOCAL_PROBE_TIMEOUT_MS = 1000;

/** Whether the container on `port` answers `/healthz` with a 2xx now (one probe). */
export async function containerHealthy(port: number, timeoutMs = LOCAL_PROBE_TIMEOUT_MS): Promise<boolean> {
  return (await probeHealth(localUrl(port), { timeoutMs })).state === "healthy";
}

/** A container `localctl start` started: what the agent and `localctl run` need to reach it. */
export const ContainerRecordSchema = z.strictObject({
  ref: RefSchema,
  platform: PlatformSchema,
  container_id: z.string().min(1),
  name: z.string().min(1),
  port: z.int().min(1).max(65535),
  /** The image as started, `repository@sha256:…`. */
  image: z.string().min(1),
  /** The digest actually resolved and injected as IMAGE_DIGEST. */
  image_digest: DigestSchema,
  /** The PROCESSOR_TOKEN it was started with: the agent and `localctl run` send it (the file is 0600). */
  processor_token: ProcessorTokenSchema,
  started_at: z.iso.datetime(),
});
export type ContainerRecord = z.infer<typeof ContainerRecordSchema>;

const StateSchema = z.strictObject({ containers: z.record(RefSchema, ContainerRecordSchema) });

const stateFile = (home: string) => join(home, "local", "containers.json");

/** The started containers by ref; an absent file is an empty state. */
export async function readContainers(home: string): Promise<Record<string, ContainerRecord>> {
  return (await readStateFile(stateFile(home), StateSchema, { containers: {} })).containers;
}

/** Replaces the whole state atomically. */
async function writeContainers(home: string, containers: Record<string, ContainerRecord>): Promise<void> {
  await writeStateFile(stateFile(home), { containers });
}

export async function recordContainer(home: string, record: ContainerRecord): Promise<void> {
  const containers = await readContainers(home);
  await writeContainers(home, { ...containers, [record.ref]: ContainerRecordSchema.parse(record) });
}

export async function forgetContainer(home: string, ref: string): Promise<ContainerRecord | undefined> {
  const containers = await readContainers(home);
  const record = containers[ref];
  if (record) {
    delete containers[ref];
    await writeContainers(home, containers);
  }
  return record;
}
