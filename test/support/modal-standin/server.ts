// A local stand-in of Modal's control-plane API for tests: the real `modal` SDK talks to it over
// h2c (MODAL_SERVER_URL=http://127.0.0.1:PORT). Its sandboxes, and the web functions of apps
// deployed to it (deploy.ts), are real containers on the local Docker engine, reached through an
// https TLS terminator with a certificate from a test CA (and, for a web function that requires
// it, a proxy-auth gate).
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { createServer, ServerError, type ServerError as ServerErrorType, Status } from "nice-grpc";
import protobuf from "protobufjs";
import type { DeclaredApp } from "./deploy.ts";
import { ensureImage, type SandboxRuntime, startSandboxContainer } from "./sandbox-runtime.ts";

export const PROTO_PATH = join(import.meta.dirname, "modal.proto");
const SERVICE = "/modal.client.ModalClient";

/** One RPC the stand-in answered (or refused), decoded with the project's modal.proto. */
export interface RecordedCall {
  method: string;
  request: Record<string, any>;
  /** gRPC status when it failed. */
  status?: number;
}

interface SandboxRecord {
  id: string;
  appId: string;
  name: string;
  image: string;
  env: Record<string, string>;
  containerPort: number;
  runtime: SandboxRuntime;
  /** null while running; the exit code once stopped (137 terminated). */
  result: { status: number; exitcode: number } | null;
}

/** A deployed web function: what serves its URL, and the image its app declared. */
export interface DeployedFunction {
  id: string;
  app: string;
  name: string;
  image: string;
  env: Record<string, string>;
  webUrl: string;
  runtime: SandboxRuntime;
}

export interface StandinOptions {
  tokenId: string;
  tokenSecret: string;
  /** The TLS terminator's key and certificate (from test/support/tls.ts makeTestCa). */
  tls: { key: string; cert: string };
  /** The workspace's proxy auth token, which web functions with requires_proxy_auth admit. */
  proxyAuth?: { key: string; secret: string };
}

export function loadModalProto(): protobuf.Root {
  const root = protobuf.loadSync(PROTO_PATH);
  root.resolveAll();
  return root;
}

const base64url = (value: object) => Buffer.from(JSON.stringify(value)).toString("base64url");

export class ModalStandin {
  readonly calls: RecordedCall[] = [];
  readonly #root = loadModalProto();
  readonly #options: StandinOptions;
  readonly #apps = new Map<string, string>();
  readonly #secrets = new Map<string, { id: string; values: Record<string, string> }>();
  readonly #images = new Map<string, string>();
  readonly #sandboxes = new Map<string, SandboxRecord>();
  /** Deployed web functions by `app/function`. */
  readonly #functions = new Map<string, DeployedFunction>();
  readonly #tokens = new Set<string>();
  #server = createServer();
  #port = 0;
  #seq = 0;

  constructor(options: StandinOptions) {
    this.#options = options;
  }

  get url(): string {
    return `http://127.0.0.1:${this.#port}`;
  }

  /** The environment the real SDK needs to talk to this stand-in (no profile file, these credentials). */
  sdkEnv(configPath: string): Record<string, string> {
    return {
      MODAL_SERVER_URL: this.url,
      MODAL_CONFIG_PATH: configPath,
      MODAL_TOKEN_ID: this.#options.tokenId,
      MODAL_TOKEN_SECRET: this.#options.tokenSecret,
    };
  }

  calls_(method: string): RecordedCall[] {
    return this.calls.filter((call) => call.method === method);
  }

  sandboxes(): SandboxRecord[] {
    return [...this.#sandboxes.values()];
  }

  async start(): Promise<void> {
    const definition: Record<string, any> = {};
    const implementation: Record<string, any> = {};
    const handlers = this.#handlers();
    for (const [method, handler] of Object.entries(handlers)) {
      const request = this.#root.lookupType(`modal.client.${handler.request}`);
      const response = this.#root.lookupType(`modal.client.${handler.response}`);
      definition[method] = {
        path: `${SERVICE}/${method}`,
        requestStream: false,
        responseStream: false,
        requestSerialize: (value: object) => request.encode(request.fromObject(value)).finish(),
        requestDeserialize: (bytes: Uint8Array) => request.toObject(request.decode(bytes), { longs: Number }),
        responseSerialize: (value: object) => response.encode(response.fromObject(value)).finish(),
        responseDeserialize: (bytes: Uint8Array) =>
          response.toObject(response.decode(bytes), { longs: Number }),
        options: {},
      };
      implementation[method] = async (
        body: Record<string, any>,
        context: { metadata: { get(k: string): unknown } },
      ) => {
        const call: RecordedCall = { method, request: body };
        this.calls.push(call);
        try {
          if (
            method !== "AuthTokenGet" &&
            !this.#tokens.has(String(context.metadata.get("x-modal-auth-token")))
          )
            throw new ServerError(Status.UNAUTHENTICATED, "invalid auth token");
          return await handler.handle(body, context);
        } catch (error) {
          call.status = (error as ServerErrorType).code ?? Status.INTERNAL;
          throw error;
        }
      };
    }
    this.#server.add(definition, implementation);
    this.#port = await this.#server.listen("127.0.0.1:0");
  }

  deployedFunction(app: string, name: string): DeployedFunction | undefined {
    return this.#functions.get(`${app}/${name}`);
  }

  /**
   * `modal deploy` of an app (as test/support/modal-standin/deploy.ts read it from the app file):
   * each web function starts as a container from the declared image (by digest), with the
   * declared env and the named secrets' values, behind its web URL; a new deploy replaces it.
   * A secret that does not exist fails the deploy, as on Modal.
   */
  async deploy(app: DeclaredApp): Promise<DeployedFunction[]> {
    const deployed: DeployedFunction[] = [];
    for (const fn of app.functions) {
      if (!fn.web_server) continue;
      const env: Record<string, string> = { ...fn.image.env };
      for (const name of fn.secrets) {
        const secret = this.#secrets.get(name);
        if (!secret) throw new Error(`Secret '${name}' not found`);
        Object.assign(env, secret.values);
      }
      if (fn.web_server.requires_proxy_auth && !this.#options.proxyAuth)
        throw new Error("this stand-in has no proxy auth token to require");
      await ensureImage(fn.image.registry);
      const key = `${app.app}/${fn.name}`;
      await this.#functions.get(key)?.runtime.stop();
      const id = this.#id("fu");
      const runtime = await startSandboxContainer({
        id,
        image: fn.image.registry,
        env,
        containerPort: fn.web_server.port,
        milliCpu: fn.cpu ? fn.cpu * 1000 : undefined,
        memoryMb: fn.memory ?? undefined,
        tls: this.#options.tls,
        command: fn.command ?? undefined,
        proxyAuth: fn.web_server.requires_proxy_auth ? this.#options.proxyAuth : undefined,
      });
      const entry = {
        id,
        app: app.app,
        name: fn.name,
        image: fn.image.registry,
        env,
        webUrl: runtime.tunnelUrl,
        runtime,
      };
      this.#functions.set(key, entry);
      deployed.push(entry);
    }
    return deployed;
  }

  /** Simulates Modal losing a sandbox: its container vanishes, its tunnel stays (and leads nowhere). */
  async killContainer(sandboxId: string): Promise<void> {
    await this.#sandboxes.get(sandboxId)?.runtime.removeContainer();
  }

  async close(): Promise<void> {
    await Promise.all(
      [...this.#sandboxes.values(), ...this.#functions.values()].map((entry) => entry.runtime.stop()),
    );
    await this.#server.shutdown();
  }

  #id(prefix: string): string {
    return `${prefix}-standin${++this.#seq}${randomBytes(4).toString("hex")}`;
  }

  #handlers(): Record<
    string,
    { request: string; response: string; handle: (body: any, context: any) => Promise<object> }
  > {
    const notFound = (what: string) => new ServerError(Status.NOT_FOUND, what);
    return {
      AuthTokenGet: {
        request: "AuthTokenGetRequest",
        response: "AuthTokenGetResponse",
        handle: async (_body, context) => {
          if (
            context.metadata.get("x-modal-token-id") !== this.#options.tokenId ||
            context.metadata.get("x-modal-token-secret") !== this.#options.tokenSecret
          )
            throw new ServerError(Status.UNAUTHENTICATED, "Token ID or secret is invalid");
          const token = [
            base64url({ alg: "HS256", typ: "JWT" }),
            base64url({ sub: this.#options.tokenId, exp: Math.floor(Date.now() / 1000) + 3600 }),
            randomBytes(16).toString("base64url"),
          ].join(".");
          this.#tokens.add(token);
          return { token };
        },
      },
      EnvironmentGetOrCreate: {
        request: "EnvironmentGetOrCreateRequest",
        response: "EnvironmentGetOrCreateResponse",
        handle: async () => ({
          environmentId: "en-standin",
          metadata: {
            name: "main",
            settings: { imageBuilderVersion: "2024.10", webhookSuffix: "modal.run" },
          },
        }),
      },
      AppGetOrCreate: {
        request: "AppGetOrCreateRequest",
        response: "AppGetOrCreateResponse",
        handle: async (body) => {
          let appId = this.#apps.get(body.appName);
          if (!appId) {
            if (body.objectCreationType !== 1) throw notFound(`App '${body.appName}' not found`);
            appId = this.#id("ap");
            this.#apps.set(body.appName, appId);
          }
          return { appId };
        },
      },
      SecretGetOrCreate: {
        request: "SecretGetOrCreateRequest",
        response: "SecretGetOrCreateResponse",
        handle: async (body) => {
          const name = body.deploymentName as string;
          if (body.objectCreationType === 3) {
            const id = this.#secrets.get(name)?.id ?? this.#id("st");
            this.#secrets.set(name, { id, values: { ...(body.envDict ?? {}) } });
            return { secretId: id };
          }
          const secret = this.#secrets.get(name);
          if (!secret) throw notFound(`Secret '${name}' not found`);
          const missing = ((body.requiredKeys ?? []) as string[]).filter((key) => !(key in secret.values));
          if (missing.length)
            throw new ServerError(Status.FAILED_PRECONDITION, `Secret is missing key(s): ${missing}`);
          return { secretId: secret.id };
        },
      },
      ImageGetOrCreate: {
        request: "ImageGetOrCreateRequest",
        response: "ImageGetOrCreateResponse",
        handle: async (body) => {
          const commands = (body.image?.dockerfileCommands ?? []) as string[];
          const from = commands.length === 1 ? /^FROM (\S+)$/.exec(commands[0] ?? "")?.[1] : undefined;
          if (!from)
            throw new ServerError(Status.INVALID_ARGUMENT, "the stand-in builds only `FROM <image>`");
          const imageId = this.#id("im");
          try {
            await ensureImage(from);
          } catch (error) {
            return {
              imageId,
              result: { status: 2, exception: `pulling ${from}: ${(error as Error).message}` },
            };
          }
          this.#images.set(imageId, from);
          return { imageId, result: { status: 1 } };
        },
      },
      SandboxCreateV2: {
        request: "SandboxCreateV2Request",
        response: "SandboxCreateV2Response",
        handle: async (body) => {
          const definition = body.definition ?? {};
          const image = this.#images.get(definition.imageId);
          if (!image) throw notFound(`Image ${definition.imageId} not found`);
          const name = definition.name as string | undefined;
          if (name && this.#running(body.appId, name))
            throw new ServerError(Status.ALREADY_EXISTS, `Sandbox with name '${name}' already exists`);
          const env: Record<string, string> = {};
          for (const source of (body.secretSources ?? []) as {
            secretId?: string;
            env?: { contents?: object };
          }[]) {
            if (source.secretId) {
              const secret = [...this.#secrets.values()].find((entry) => entry.id === source.secretId);
              if (!secret) throw notFound(`Secret ${source.secretId} not found`);
              Object.assign(env, secret.values);
            }
            Object.assign(env, source.env?.contents ?? {});
          }
          const ports = (
            (definition.openPorts?.ports ?? []) as { port: number; unencrypted?: boolean }[]
          ).filter((port) => !port.unencrypted);
          const containerPort = ports.length === 1 ? ports[0]?.port : undefined;
          if (containerPort === undefined)
            throw new ServerError(Status.INVALID_ARGUMENT, "the stand-in serves exactly one encrypted port");
          const id = this.#id("sb");
          const runtime = await startSandboxContainer({
            id,
            image,
            env,
            containerPort,
            milliCpu: definition.resources?.milliCpu,
            memoryMb: definition.resources?.memoryMb,
            tls: this.#options.tls,
          });
          this.#sandboxes.set(id, {
            id,
            appId: body.appId,
            name: name ?? "",
            image,
            env,
            containerPort,
            runtime,
            result: null,
          });
          return { sandboxId: id, taskId: this.#id("ta"), tunnels: [this.#tunnel(id)] };
        },
      },
      SandboxGetFromNameV2: {
        request: "SandboxGetFromNameRequest",
        response: "SandboxGetFromNameResponse",
        handle: async (body) => {
          const appId = this.#apps.get(body.appName);
          const sandbox = appId ? this.#running(appId, body.sandboxName) : undefined;
          if (!sandbox)
            throw notFound(`Sandbox with name '${body.sandboxName}' not found in App '${body.appName}'`);
          return { sandboxId: sandbox.id };
        },
      },
      SandboxWaitV2: {
        request: "SandboxWaitRequest",
        response: "SandboxWaitResponse",
        handle: async (body) => {
          const sandbox = await this.#refresh(body.sandboxId);
          return sandbox.result ? { result: sandbox.result } : {};
        },
      },
      SandboxGetTunnelsV2: {
        request: "SandboxGetTunnelsRequest",
        response: "SandboxGetTunnelsResponse",
        handle: async (body) => {
          const sandbox = await this.#refresh(body.sandboxId);
          return sandbox.result
            ? { result: { status: 3 } }
            : { result: { status: 1 }, tunnels: [this.#tunnel(sandbox.id)] };
        },
      },
      FunctionGet: {
        request: "FunctionGetRequest",
        response: "FunctionGetResponse",
        handle: async (body) => {
          const deployed = this.#functions.get(`${body.appName}/${body.objectTag}`);
          if (!deployed) throw notFound(`Function '${body.appName}/${body.objectTag}' not found`);
          return {
            functionId: deployed.id,
            handleMetadata: { functionName: deployed.name, webUrl: deployed.webUrl },
          };
        },
      },
      SandboxTerminateV2: {
        request: "SandboxTerminateRequest",
        response: "SandboxTerminateResponse",
        handle: async (body) => {
          const sandbox = this.#sandboxes.get(body.sandboxId);
          if (!sandbox) throw notFound(`Sandbox ${body.sandboxId} not found`);
          if (!sandbox.result) {
            sandbox.result = { status: 3, exitcode: 137 };
            await sandbox.runtime.stop();
          }
          return {};
        },
      },
    };
  }

  #tunnel(id: string) {
    const sandbox = this.#sandboxes.get(id);
    const runtime = sandbox?.runtime;
    if (!sandbox || !runtime) throw new ServerError(Status.NOT_FOUND, `Sandbox ${id} not found`);
    const url = new URL(runtime.tunnelUrl);
    return { host: url.hostname, port: Number(url.port), containerPort: sandbox.containerPort };
  }

  #running(appId: string, name: string): SandboxRecord | undefined {
    return [...this.#sandboxes.values()].find(
      (s) => s.appId === appId && s.name === name && s.result === null,
    );
  }

  /** A sandbox whose container stopped on its own has finished, as on Modal. */
  async #refresh(id: string): Promise<SandboxRecord> {
    const sandbox = this.#sandboxes.get(id);
    if (!sandbox) throw new ServerError(Status.NOT_FOUND, `Sandbox ${id} not found`);
    if (!sandbox.result) {
      const state = await sandbox.runtime.state();
      if (!state.running) sandbox.result = { status: 1, exitcode: state.exitCode };
    }
    return sandbox;
  }
}

/** Starts a stand-in on a loopback port. */
export async function startModalStandin(options: StandinOptions): Promise<ModalStandin> {
  const standin = new ModalStandin(options);
  await standin.start();
  return standin;
}
