// `theory imagectl build|push|pin|publish --ref R --platform amd64|arm64`: the processor image, from
// processor/Dockerfile to a digest pinned in registry.yaml. One image carries every tool; the ref
// selects the tool registry's entry (its repository, its pins).
import type Docker from "dockerode";
import { DigestSchema, type Platform, PlatformSchema } from "../../src/contract/primitives.ts";
import type { ToolEntry } from "../../src/contract/tool-registry.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { lookupTool } from "../../src/core/tool-registry.ts";
import { defineCommand, type OptionSpecs } from "../cli/command.ts";
import type { CliContext, CommandResult } from "../cli/context.ts";
import { connectDocker, ensureEngine } from "../docker/engine.ts";
import {
  assertPlatform,
  buildImage,
  inspectImage,
  type Progress,
  pushImage,
  repoDigest,
} from "../docker/images.ts";
import { prepareProcessorContext } from "../imagectl/build-context.ts";
import { loadToolRegistry } from "../tool-registry/load.ts";
import { pinDigest } from "../tool-registry/pin.ts";

type Action = "build" | "push" | "pin" | "publish";

const OPTIONS = {
  ref: {
    type: "string",
    placeholder: "R",
    description: "the tool's ref: <image> is its repository in registry.yaml",
    required: true,
  },
  platform: {
    type: "string",
    placeholder: "amd64|arm64",
    description: "the image's platform (explicit: there is no default)",
    required: true,
  },
} as const satisfies OptionSpecs;
const BASE_IMAGE_OPTION = {
  "base-image": {
    type: "string",
    placeholder: "IMAGE",
    description: "the base image (default: the Dockerfile's own BASE_IMAGE)",
  },
} as const satisfies OptionSpecs;
const DIGEST_OPTION = {
  digest: {
    type: "string",
    placeholder: "sha256:…",
    description: "the digest to pin (default: the one `imagectl push` left on the tag)",
  },
} as const satisfies OptionSpecs;

/** What the actions' flags give; each action declares only its own, so another's flag is unknown to it. */
interface RequestValues {
  ref: string;
  platform: string;
  "base-image"?: string | undefined;
  digest?: string | undefined;
}

interface Request {
  action: Action;
  ref: string;
  platform: Platform;
  entry: ToolEntry;
  tag: string;
  baseImage: string | undefined;
  digest: string | undefined;
}

async function readRequest(action: Action, values: RequestValues, context: CliContext): Promise<Request> {
  const platform = PlatformSchema.safeParse(values.platform);
  if (!platform.success)
    throw new TheoryError(
      "ERR_INPUTS",
      `--platform must be amd64 or arm64, not ${JSON.stringify(values.platform)}`,
    );
  if (values.digest !== undefined) {
    if (!DigestSchema.safeParse(values.digest).success)
      throw new TheoryError(
        "ERR_INPUTS",
        `--digest must be sha256:<64 lowercase hex>, not ${JSON.stringify(values.digest)}`,
      );
  }
  if (values["base-image"] !== undefined && !/^[^\s]+$/.test(values["base-image"]))
    throw new TheoryError("ERR_INPUTS", "--base-image must be an image reference");
  const entry = lookupTool(await loadToolRegistry(context.config.registry), values.ref);
  return {
    action,
    ref: values.ref,
    platform: platform.data,
    entry,
    tag: `${platform.data}-build`,
    baseImage: values["base-image"],
    digest: values.digest,
  };
}

/** Human progress on stderr, only when it is a terminal (logs stay NDJSON otherwise). */
const progressFor = (context: CliContext): Progress | undefined =>
  context.stderrIsTTY ? (line) => void process.stderr.write(line) : undefined;

async function engine(context: CliContext): Promise<Docker> {
  const docker = connectDocker(context.config.dockerSocket);
  await ensureEngine(docker);
  return docker;
}

async function build(docker: Docker, request: Request, context: CliContext) {
  const started = Date.now();
  const name = `${request.entry.image}:${request.tag}`;
  const log = context.log.child({ ref: request.ref });
  progressFor(context)?.("bundling the processor (scripts/build-processor.ts)\n");
  const staged = await prepareProcessorContext(context.signal);
  log.info("imagectl.build.start", {
    tag: name,
    platform: request.platform,
    base_image: request.baseImage ?? "(Dockerfile default)",
    bundle_bytes: staged.bundleBytes,
  });
  try {
    const imageId = await buildImage(docker, {
      contextDir: staged.dir,
      entries: staged.entries,
      dockerfile: staged.dockerfile,
      tag: name,
      platform: request.platform,
      buildArgs: request.baseImage === undefined ? {} : { BASE_IMAGE: request.baseImage },
      signal: context.signal,
      progress: progressFor(context),
    });
    log.info("imagectl.build.done", { tag: name, image_id: imageId, elapsed_ms: Date.now() - started });
    return { ref: request.ref, platform: request.platform, image_id: imageId, tag: name };
  } finally {
    await staged.dispose();
  }
}

async function push(docker: Docker, request: Request, context: CliContext) {
  const started = Date.now();
  const name = `${request.entry.image}:${request.tag}`;
  const info = await inspectImage(docker, name, "run imagectl build first");
  assertPlatform(info, name, request.platform);
  const digest = await pushImage(docker, {
    repository: request.entry.image,
    tag: request.tag,
    signal: context.signal,
    progress: progressFor(context),
  });
  context.log.info("imagectl.push.done", {
    ref: request.ref,
    tag: name,
    digest,
    elapsed_ms: Date.now() - started,
  });
  return { ref: request.ref, platform: request.platform, image: `${request.entry.image}@${digest}`, digest };
}

/** The digest `imagectl push` left on the tag's image (RepoDigests), for pin without --digest. */
async function pushedDigest(docker: Docker, request: Request): Promise<string> {
  const name = `${request.entry.image}:${request.tag}`;
  const info = await inspectImage(docker, name, "run imagectl build and push first, or give --digest");
  assertPlatform(info, name, request.platform);
  const digest = repoDigest(info, request.entry.image);
  if (!digest)
    throw new TheoryError(
      "ERR_IMAGE_NOT_FOUND",
      `${name} was not pushed to ${request.entry.image} (run imagectl push first, or give --digest)`,
    );
  return digest;
}

async function pin(request: Request, digest: string, context: CliContext) {
  const path = context.config.registry;
  const outcome = await pinDigest(path, request.ref, request.platform, digest);
  context.log.info("imagectl.pin.done", {
    ref: request.ref,
    platform: request.platform,
    digest,
    previous: outcome.previous ?? null,
    changed: outcome.changed,
    registry: path,
  });
  return { ref: request.ref, platform: request.platform, digest, registry: path };
}

async function run(action: Action, values: RequestValues, context: CliContext): Promise<CommandResult> {
  const request = await readRequest(action, values, context);
  try {
    return await perform(request, context);
  } catch (error) {
    // Stopped by a signal: say so (ERR_CANCELED), not how the engine call happened to end.
    throw context.signal.aborted ? context.signal.reason : error;
  }
}

async function perform(request: Request, context: CliContext): Promise<CommandResult> {
  switch (request.action) {
    case "build":
      return { value: await build(await engine(context), request, context) };
    case "push":
      return { value: await push(await engine(context), request, context) };
    case "pin": {
      const digest = request.digest ?? (await pushedDigest(await engine(context), request));
      return { value: await pin(request, digest, context) };
    }
    case "publish": {
      const docker = await engine(context);
      const built = await build(docker, request, context);
      const pushed = await push(docker, request, context);
      const pinned = await pin(request, pushed.digest, context);
      return { value: { ...built, ...pushed, ...pinned } };
    }
  }
}

export const command = defineCommand({
  name: "imagectl",
  summary: "build, push and pin the processor image (build|push|pin|publish --ref R --platform P)",
  notes:
    "One image carries every tool; <image> is the ref's repository in registry.yaml (--registry FILE), " +
    "built from processor/Dockerfile.",
  subcommands: [
    defineCommand({
      name: "build",
      summary: "bundle the processor and build processor/Dockerfile as <image>:<platform>-build",
      options: { ...OPTIONS, ...BASE_IMAGE_OPTION },
      run: ({ values }, context) => run("build", values, context),
    }),
    defineCommand({
      name: "push",
      summary: "push <image>:<platform>-build to the image registry named in <image>; prints the digest",
      options: OPTIONS,
      run: ({ values }, context) => run("push", values, context),
    }),
    defineCommand({
      name: "pin",
      summary: "write the digest into registry.yaml: --digest, else the pushed one",
      options: { ...OPTIONS, ...DIGEST_OPTION },
      run: ({ values }, context) => run("pin", values, context),
    }),
    defineCommand({
      name: "publish",
      summary: "build, push and pin in one go",
      options: { ...OPTIONS, ...BASE_IMAGE_OPTION },
      run: ({ values }, context) => run("publish", values, context),
    }),
  ],
});
