// `theory imagectl build|push|pin|publish --ref R --platform amd64|arm64`: the processor image, from
// processor/Dockerfile to a digest pinned in registry.yaml. One image carries every tool; the ref
// selects the tool registry's entry (its repository, its pins).
import type Docker from "dockerode";
import { DigestSchema, type Platform, PlatformSchema } from "../../src/contract/primitives.ts";
import type { ToolEntry } from "../../src/contract/tool-registry.ts";
import { TheoryError } from "../../src/core/errors.ts";
import { lookupTool } from "../../src/core/tool-registry.ts";
import { type CliContext, type Command, type CommandResult, GLOBAL_OPTIONS } from "../cli/context.ts";
import { parseFlags } from "../cli/flags.ts";
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

const ACTIONS = ["build", "push", "pin", "publish"] as const;
type Action = (typeof ACTIONS)[number];

const OPTIONS = {
  ref: { type: "string" },
  platform: { type: "string" },
  "base-image": { type: "string" },
  digest: { type: "string" },
  ...GLOBAL_OPTIONS,
} as const;

const USAGE = `usage: theory imagectl <action> --ref R --platform amd64|arm64 [--json] [--registry FILE]

  build    bundle the processor and build processor/Dockerfile as <image>:<platform>-build
           [--base-image IMAGE]  (default: the Dockerfile's own BASE_IMAGE)
  push     push <image>:<platform>-build to the image registry named in <image>; prints the digest
  pin      write the digest into registry.yaml: [--digest sha256:…], default the pushed one
  publish  build, push and pin in one go  [--base-image IMAGE]

<image> is the ref's repository in registry.yaml.
`;

interface Request {
  action: Action;
  ref: string;
  platform: Platform;
  entry: ToolEntry;
  tag: string;
  baseImage: string | undefined;
  digest: string | undefined;
}

const parse = (args: string[]) => parseFlags(args, OPTIONS, true);

async function readRequest(args: string[], context: CliContext): Promise<Request> {
  const { values, positionals } = parse(args);
  const [action, ...extra] = positionals;
  if (!ACTIONS.includes(action as Action) || extra.length > 0)
    throw new TheoryError("ERR_INPUTS", `imagectl takes one action: ${ACTIONS.join("|")}`);
  if (values.ref === undefined) throw new TheoryError("ERR_INPUTS", "--ref is required");
  const platform = PlatformSchema.safeParse(values.platform);
  if (!platform.success)
    throw new TheoryError(
      "ERR_INPUTS",
      values.platform === undefined
        ? "--platform amd64|arm64 is required (explicit: there is no default)"
        : `--platform must be amd64 or arm64, not ${JSON.stringify(values.platform)}`,
    );
  if (values["base-image"] !== undefined && action !== "build" && action !== "publish")
    throw new TheoryError("ERR_INPUTS", "--base-image applies to build and publish only");
  if (values.digest !== undefined) {
    if (action !== "pin") throw new TheoryError("ERR_INPUTS", "--digest applies to pin only");
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
    action: action as Action,
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

async function run(args: string[], context: CliContext): Promise<CommandResult> {
  if (parse(args).values.help) return { raw: USAGE };
  const request = await readRequest(args, context);
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

export const command: Command = {
  summary: "build, push and pin the processor image (build|push|pin|publish --ref R --platform P)",
  run,
};
