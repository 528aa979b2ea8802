import { createInterface } from "node:readline";
import type Docker from "dockerode";
import { DigestSchema, type Platform } from "../../src/contract/primitives.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { dockerStatus } from "./engine.ts";

/** One progress line for a human (stderr on a terminal); the caller decides where it goes. */
export type Progress = (line: string) => void;

/** What the engine streams for build and push: NDJSON of these, an `error` ending a failed one. */
interface StreamEvent {
  stream?: string;
  status?: string;
  id?: string;
  progress?: string;
  aux?: { ID?: string; Tag?: string; Digest?: string; Size?: number };
  error?: string;
  errorDetail?: { message?: string };
}

const short = (message: string) => {
  const line = message.trim().split("\n")[0] ?? "";
  return line.length > 300 ? `${line.slice(0, 297)}...` : line;
};

/** A Docker Engine API failure (HTTP error, broken stream) as ERR_DOCKER with the engine's words. */
export function engineError(action: string, error: unknown): TheoryError {
  if (error instanceof TheoryError) return error;
  const engine = error as { json?: { message?: string }; reason?: string; message?: string };
  const detail = engine.json?.message ?? engine.message ?? engine.reason ?? String(error);
  return new TheoryError("ERR_DOCKER", `${action}: ${short(detail)}`, { cause: error });
}

/**
 * Reads an engine NDJSON stream to its end, handing each event to `onEvent`. An `{error}` event
 * (a failed build step, a refused push) is thrown as ERR_DOCKER once the stream is drained.
 */
async function followStream(
  stream: NodeJS.ReadableStream,
  action: string,
  onEvent: (event: StreamEvent) => void,
): Promise<void> {
  let failure: string | undefined;
  try {
    for await (const line of createInterface({ input: stream, crlfDelay: Infinity })) {
      if (!line.trim()) continue;
      let event: StreamEvent;
      try {
        event = JSON.parse(line) as StreamEvent;
      } catch {
        continue; // not an event (the engine only writes JSON lines; skip rather than guess)
      }
      if (event.error !== undefined || event.errorDetail?.message !== undefined)
        failure ??= event.errorDetail?.message ?? event.error ?? "unknown error";
      onEvent(event);
    }
  } catch (error) {
    throw engineError(action, error);
  }
  if (failure !== undefined) throw new TheoryError("ERR_DOCKER", `${action}: ${short(failure)}`);
}

/** `linux/amd64` as the engine names it. */
export const osPlatform = (platform: Platform) => `linux/${platform}`;

/** The local image under `name`, or ERR_IMAGE_NOT_FOUND with `hint`. */
export async function inspectImage(
  docker: Docker,
  name: string,
  hint: string,
): Promise<Docker.ImageInspectInfo> {
  try {
    return await docker.getImage(name).inspect();
  } catch (error) {
    if (dockerStatus(error) === 404)
      throw new TheoryError("ERR_IMAGE_NOT_FOUND", `no image ${name} (${hint})`);
    throw engineError(`inspecting ${name}`, error);
  }
}

/** Fails unless the image really is for `platform` (an engine may build the host's platform). */
export function assertPlatform(info: Docker.ImageInspectInfo, name: string, platform: Platform): void {
  const actual = `${info.Os}/${info.Architecture}`;
  if (actual !== osPlatform(platform))
    throw new TheoryError(
      "ERR_DOCKER",
      `${name} is a ${actual} image, not ${osPlatform(platform)} (is the base image available for ${osPlatform(platform)}?)`,
    );
}

export interface BuildRequest {
  /** A directory holding the build context (the Dockerfile included). */
  contextDir: string;
  /** The files and folders of `contextDir` to send. */
  entries: string[];
  /** The Dockerfile's path inside the context. */
  dockerfile: string;
  tag: string;
  platform: Platform;
  buildArgs: Record<string, string>;
  signal: AbortSignal;
  progress?: Progress;
}

/** Builds with the Engine API (the classic builder) and returns the new image's id. */
export async function buildImage(docker: Docker, request: BuildRequest): Promise<string> {
  const action = `building ${request.tag}`;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker.buildImage(
      { context: request.contextDir, src: request.entries },
      {
        dockerfile: request.dockerfile,
        t: request.tag,
        platform: osPlatform(request.platform),
        buildargs: request.buildArgs,
        rm: true,
        forcerm: true,
        abortSignal: request.signal,
      },
    );
  } catch (error) {
    throw engineError(action, error);
  }
  let imageId: string | undefined;
  await followStream(stream, action, (event) => {
    if (event.aux?.ID) imageId = event.aux.ID;
    if (event.stream) request.progress?.(event.stream);
  });
  const info = await inspectImage(docker, request.tag, "the build reported success but left no image");
  if (imageId !== undefined && info.Id !== imageId)
    throw new TheoryError(
      "ERR_DOCKER",
      `${request.tag} is ${info.Id}, not the image just built (${imageId})`,
    );
  try {
    assertPlatform(info, request.tag, request.platform);
  } catch (error) {
    // Leave no tag that claims a platform its image is not for.
    await docker
      .getImage(request.tag)
      .remove({ noprune: true })
      .catch(() => undefined);
    throw error;
  }
  return info.Id;
}

export interface PushRequest {
  /** The repository, `host[:port]/path`, the image registry's host included. */
  repository: string;
  tag: string;
  signal: AbortSignal;
  progress?: Progress;
}

/** Pushes `repository:tag` and returns the manifest digest the image registry stored. */
export async function pushImage(docker: Docker, request: PushRequest): Promise<string> {
  const name = `${request.repository}:${request.tag}`;
  const host = request.repository.split("/")[0];
  const action = `pushing ${name}`;
  let stream: NodeJS.ReadableStream;
  try {
    stream = await docker
      .getImage(request.repository)
      .push({ tag: request.tag, abortSignal: request.signal });
  } catch (error) {
    if (dockerStatus(error) === 404) throw new TheoryError("ERR_IMAGE_NOT_FOUND", `no image ${name}`);
    throw engineError(action, error);
  }
  let digest: string | undefined;
  try {
    await followStream(stream, action, (event) => {
      if (event.aux?.Digest && (event.aux.Tag === undefined || event.aux.Tag === request.tag))
        digest = event.aux.Digest;
      if (event.status && event.status !== "Pushing")
        request.progress?.(`${event.id ? `${event.id}: ` : ""}${event.status}\n`);
    });
  } catch (error) {
    const message = (error as Error).message;
    if (/connection refused|no such host|dial tcp|i\/o timeout|server gave HTTP response/i.test(message))
      throw new TheoryError(
        "ERR_DOCKER",
        `${message} (is the image registry at ${host} running? for 127.0.0.1:5000: bash scripts/docker/ensure-image-registry.sh)`,
      );
    throw error;
  }
  digest ??= repoDigest(await inspectImage(docker, name, "it vanished during the push"), request.repository);
  if (!digest || !DigestSchema.safeParse(digest).success)
    throw new TheoryError("ERR_DOCKER", `${action}: the engine reported no manifest digest`);
  return digest;
}

/**
 * The manifest digest `repository` holds for this image, from RepoDigests (set by a push or a
 * pull). Undefined when it was never pushed there; ERR_INPUTS when several disagree.
 */
export function repoDigest(info: Docker.ImageInspectInfo, repository: string): string | undefined {
  const digests = new Set(
    (info.RepoDigests ?? [])
      .filter((entry) => entry.slice(0, entry.lastIndexOf("@")) === repository)
      .map((entry) => entry.slice(entry.lastIndexOf("@") + 1)),
  );
  if (digests.size > 1)
    throw new TheoryError(
      "ERR_INPUTS",
      `the image has several digests in ${repository} (${[...digests].join(", ")}): pin one with --digest`,
    );
  return [...digests][0];
}
