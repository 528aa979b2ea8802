// The only module that imports the Modal JS SDK (Node only: it speaks gRPC over HTTP/2).
import {
  AlreadyExistsError,
  type App,
  ModalClient,
  type Logger as ModalLogger,
  NotFoundError,
  type Sandbox,
} from "modal";
import { TheoryError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/log.ts";
import type { SandboxSpec } from "./plan.ts";

/** gRPC status codes the mapping looks at (the SDK surfaces nice-grpc's ClientError for these). */
const GRPC = { PERMISSION_DENIED: 7, UNAVAILABLE: 14, UNAUTHENTICATED: 16 } as const;
/** Modal's OBJECT_CREATION_TYPE_CREATE_OVERWRITE_IF_EXISTS. */
const CREATE_OVERWRITE_IF_EXISTS = 3;
/** How long to wait for a new sandbox's tunnels. */
const TUNNELS_TIMEOUT_MS = 60_000;

const AUTH_HINT =
  "set MODAL_TOKEN_ID and MODAL_TOKEN_SECRET to a valid Modal token (create one with `modal token new`)";

export interface StartedSandbox {
  sandbox_id: string;
  /** The tunnel's public https URL for the processor's port, as Modal reports it. */
  url: string;
}

/** A deployed web function, as Modal reports it. */
export interface WebFunction {
  function_id: string;
  /** Its web URL, from Modal (never built from names). */
  url: string;
}

export interface SandboxStatus {
  sandbox_id: string;
  running: boolean;
  /** Exit code once it stopped (Modal reports 137 for terminated, 124 for timed out). */
  exit_code: number | null;
  url?: string;
}

const firstLine = (text: string) => {
  const line = text.trim().split("\n")[0] ?? "";
  return line.length > 200 ? `${line.slice(0, 197)}...` : line;
};

/**
 * Modal's failures as Theory's codes: a missing sandbox or app is ERR_ENDPOINT_MISSING, rejected
 * credentials ERR_AUTH with the fix, an image Modal could not pull ERR_IMAGE_NOT_FOUND, a name in
 * use ERR_CONFLICT; anything else ERR_INTERNAL naming the operation.
 */
export function mapModalError(error: unknown, action: string): TheoryError {
  if (error instanceof TheoryError) return error;
  const message = (error as Error)?.message ?? String(error);
  const code = (error as { code?: unknown }).code;
  if (error instanceof NotFoundError)
    return new TheoryError("ERR_ENDPOINT_MISSING", `${action}: not found on Modal (${firstLine(message)})`);
  if (error instanceof AlreadyExistsError)
    return new TheoryError("ERR_CONFLICT", `${action}: already exists on Modal (modalctl stop first)`);
  if (
    code === GRPC.UNAUTHENTICATED ||
    code === GRPC.PERMISSION_DENIED ||
    /missing credentials/i.test(message)
  )
    return new TheoryError("ERR_AUTH", `${action}: Modal refused the credentials; ${AUTH_HINT}`);
  if (/^Image build for \S+ failed/.test(message))
    return new TheoryError(
      "ERR_IMAGE_NOT_FOUND",
      `${action}: Modal could not pull the image (${firstLine(message.split("\n").slice(1).join(" ") || message)})`,
    );
  if (code === GRPC.UNAVAILABLE)
    return new TheoryError(
      "ERR_INTERNAL",
      `${action}: the Modal API is unreachable (check MODAL_SERVER_URL and the network)`,
    );
  return new TheoryError("ERR_INTERNAL", `${action}: Modal failed (${firstLine(message)})`, { cause: error });
}

/** The SDK's key-value log calls as NDJSON events on our logger. */
function bridge(log: Logger): ModalLogger {
  const fields = (args: unknown[]) => {
    const out: Record<string, unknown> = {};
    for (let i = 0; i + 1 < args.length; i += 2) out[String(args[i])] = String(args[i + 1]);
    return out;
  };
  return {
    debug: (message, ...args) => log.debug("modal.sdk", { message, ...fields(args) }),
    info: (message, ...args) => log.debug("modal.sdk", { message, ...fields(args) }),
    warn: (message, ...args) => log.warn("modal.sdk", { message, ...fields(args) }),
    error: (message, ...args) => log.error("modal.sdk", { message, ...fields(args) }),
  };
}

/**
 * Modal through its JS SDK: apps, named sandboxes (the V2 backend) with one encrypted port each,
 * deployed web functions (looked up, never deployed here), named secrets. Credentials come from MODAL_TOKEN_ID / MODAL_TOKEN_SECRET (and the server from
 * MODAL_SERVER_URL, read by the SDK). Every failure is a TheoryError.
 */
export class ModalGateway {
  readonly #client: ModalClient;
  readonly #log: Logger;

  constructor(options: { env: NodeJS.ProcessEnv; log: Logger }) {
    const { MODAL_TOKEN_ID: tokenId, MODAL_TOKEN_SECRET: tokenSecret } = options.env;
    if (!tokenId || !tokenSecret) throw new TheoryError("ERR_AUTH", `no Modal credentials: ${AUTH_HINT}`);
    this.#log = options.log;
    this.#client = new ModalClient({
      tokenId,
      tokenSecret,
      environment: options.env.MODAL_ENVIRONMENT || undefined,
      logger: bridge(options.log),
    });
  }

  /** The app by name, created when missing. */
  async ensureApp(name: string): Promise<{ app_id: string }> {
    return { app_id: (await this.#app(name)).appId };
  }

  /** Starts the spec's named sandbox and returns the tunnel URL Modal reports for its port. */
  async startSandbox(spec: SandboxSpec): Promise<StartedSandbox> {
    const app = await this.#app(spec.app);
    const secrets = [];
    if (spec.secret) {
      try {
        secrets.push(await this.#client.secrets.fromName(spec.secret));
      } catch (error) {
        if (error instanceof NotFoundError)
          throw new TheoryError(
            "ERR_MISSING_SECRET",
            `Modal secret ${spec.secret} is missing: theory modalctl sync-secrets --ref ${spec.ref}`,
          );
        throw mapModalError(error, `reading secret ${spec.secret}`);
      }
    }
    let sandbox: Sandbox;
    try {
      sandbox = await this.#client.sandboxes.experimentalCreate(
        app,
        this.#client.images.fromRegistry(spec.image),
        {
          name: spec.name,
          encryptedPorts: [spec.port],
          cpu: spec.cpu,
          memoryMiB: spec.memoryMiB,
          timeoutMs: spec.timeoutS * 1000,
          env: spec.env,
          secrets,
        },
      );
    } catch (error) {
      throw mapModalError(error, `starting ${spec.ref} from ${spec.image}`);
    }
    this.#log.info("adapter.container.start", { ref: spec.ref, sandbox_id: sandbox.sandboxId });
    try {
      const tunnel = (await sandbox.tunnels(TUNNELS_TIMEOUT_MS))[spec.port];
      if (!tunnel)
        throw new TheoryError("ERR_ENDPOINT_MISSING", `Modal reported no tunnel for port ${spec.port}`);
      return { sandbox_id: sandbox.sandboxId, url: tunnel.url };
    } catch (error) {
      await sandbox.terminate().catch(() => undefined);
      throw mapModalError(error, `reading the tunnel of ${spec.ref}`);
    }
  }

  /** The named sandbox's state and tunnel URL, or null when Modal has no running sandbox by that name. */
  async sandboxStatus(app: string, name: string, port: number): Promise<SandboxStatus | null> {
    const sandbox = await this.#find(app, name);
    if (!sandbox) return null;
    try {
      const exitCode = await sandbox.poll();
      const running = exitCode === null;
      const url = running ? (await sandbox.tunnels(TUNNELS_TIMEOUT_MS))[port]?.url : undefined;
      return { sandbox_id: sandbox.sandboxId, running, exit_code: exitCode, ...(url ? { url } : {}) };
    } catch (error) {
      throw mapModalError(error, `reading the state of sandbox ${name}`);
    }
  }

  /** Terminates the named sandbox; false when there was none. */
  async terminateSandbox(app: string, name: string): Promise<{ sandbox_id: string } | null> {
    const sandbox = await this.#find(app, name);
    if (!sandbox) return null;
    try {
      await sandbox.terminate();
    } catch (error) {
      throw mapModalError(error, `terminating sandbox ${name}`);
    }
    return { sandbox_id: sandbox.sandboxId };
  }

  /**
   * The deployed function `name` of app `app` and its web URL, or null when it is not deployed. A
   * function that is deployed but serves no web endpoint is ERR_ENDPOINT_MISSING.
   */
  async webFunction(app: string, name: string): Promise<WebFunction | null> {
    try {
      const deployed = await this.#client.functions.fromName(app, name);
      const url = await deployed.getWebUrl();
      if (!url)
        throw new TheoryError("ERR_ENDPOINT_MISSING", `Modal function ${app}/${name} is not a web endpoint`);
      return { function_id: deployed.functionId, url };
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      throw mapModalError(error, `looking up function ${app}/${name}`);
    }
  }

  /** Creates or overwrites the named secret with exactly these values. */
  async syncSecret(name: string, values: Record<string, string>): Promise<{ secret_id: string }> {
    try {
      // The SDK's public surface has no "create a named secret from values"; its own gRPC client does.
      const response = await this.#client.cpClient.secretGetOrCreate({
        deploymentName: name,
        environmentName: this.#client.environmentName(),
        objectCreationType: CREATE_OVERWRITE_IF_EXISTS as never,
        envDict: values,
      });
      return { secret_id: response.secretId };
    } catch (error) {
      throw mapModalError(error, `syncing secret ${name}`);
    }
  }

  close(): void {
    this.#client.close();
  }

  async #app(name: string): Promise<App> {
    try {
      return await this.#client.apps.fromName(name, { createIfMissing: true });
    } catch (error) {
      throw mapModalError(error, `app ${name}`);
    }
  }

  async #find(app: string, name: string): Promise<Sandbox | null> {
    try {
      return await this.#client.sandboxes.experimentalFromName(app, name);
    } catch (error) {
      if (error instanceof NotFoundError) return null;
      throw mapModalError(error, `looking up sandbox ${name}`);
    }
  }
}
