import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";
import { FetchHttpHandler } from "@smithy/fetch-http-handler";
import { TheoryError } from "../../core/errors.ts";
import type { S3Settings } from "../config.ts";
import {
  type ByteRange,
  MAX_PRESIGN_SECONDS,
  type ObjectReader,
  type ObjectStore,
  type StoredObject,
  storageError,
  unquoteEtag,
} from "./object-store.ts";

/** One request's budget; the SDK's own retries (3 attempts) apply on top for retryable failures. */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * An ObjectStore over an S3 API (AWS S3, R2's S3-compatible API, or a local stand-in), through the
 * AWS SDK with fetch as its transport so it runs in workerd and Node alike. Path-style addressing.
 */
export class S3ObjectStore implements ObjectStore {
  readonly #client: S3Client;
  readonly #bucket: string;

  constructor(settings: S3Settings) {
    this.#bucket = settings.bucket;
    this.#client = new S3Client({
      endpoint: settings.endpoint,
      region: settings.region,
      forcePathStyle: true,
      credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
      requestHandler: new FetchHttpHandler({ requestTimeout: REQUEST_TIMEOUT_MS }),
      // Flexible checksums only where an operation requires them: otherwise a presigned PUT URL
      // would carry a checksum of the empty body that a processor's plain PUT cannot satisfy.
      requestChecksumCalculation: "WHEN_REQUIRED",
      responseChecksumValidation: "WHEN_REQUIRED",
    });
    this.#client.middlewareStack.addRelativeTo(readErrorCodes, {
      name: "theoryReadErrorCodes",
      relation: "after",
      toMiddleware: "deserializerMiddleware",
    });
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<{ etag: string }> {
    const command = new PutObjectCommand({
      Bucket: this.#bucket,
      Key: key,
      Body: bytes,
      ContentType: contentType,
    });
    const output = await this.#send("put", () => this.#client.send(command));
    if (!output?.ETag) throw storageError("put", "the response carried no ETag");
    return { etag: unquoteEtag(output.ETag) };
  }

  async get(key: string): Promise<StoredObject | null> {
    const command = new GetObjectCommand({ Bucket: this.#bucket, Key: key });
    return this.#send("get", async () => {
      const output = await this.#client.send(command);
      if (!output.Body || !output.ETag) throw storageError("get", "the response carried no body or ETag");
      return { bytes: await output.Body.transformToByteArray(), etag: unquoteEtag(output.ETag) };
    });
  }

  async head(key: string): Promise<{ etag: string; size: number } | null> {
    const command = new HeadObjectCommand({ Bucket: this.#bucket, Key: key });
    const output = await this.#send("head", () => this.#client.send(command));
    if (output === null) return null;
    if (!output.ETag || output.ContentLength === undefined) {
      throw storageError("head", "the response carried no ETag or length");
    }
    return { etag: unquoteEtag(output.ETag), size: output.ContentLength };
  }

  async read(key: string, range?: ByteRange): Promise<ObjectReader | null> {
    const command = new GetObjectCommand({
      Bucket: this.#bucket,
      Key: key,
      ...(range ? { Range: `bytes=${range.offset}-${range.offset + range.length - 1}` } : {}),
    });
    return this.#send("read", async () => {
      const output = await this.#client.send(command);
      if (!output.Body || !output.ETag) throw storageError("read", "the response carried no body or ETag");
      // A ranged answer's length is the range's; the whole size is after the slash of Content-Range.
      const size = Number(output.ContentRange?.split("/")[1] ?? output.ContentLength);
      if (!Number.isInteger(size)) throw storageError("read", "the response carried no size");
      return {
        body: output.Body.transformToWebStream() as ReadableStream<Uint8Array>,
        etag: unquoteEtag(output.ETag),
        size,
        ...(output.ContentType ? { contentType: output.ContentType } : {}),
      };
    });
  }

  /**
   * One DeleteObject per key (a run has a handful). Neither DeleteObjects (it needs a checksum
   * header) nor listing (its XML answer cannot be read in workerd, which has no DOMParser) is used.
   */
  async delete(keys: readonly string[]): Promise<void> {
    for (const key of keys) {
      const command = new DeleteObjectCommand({ Bucket: this.#bucket, Key: key });
      await this.#send("delete", () => this.#client.send(command));
    }
  }

  async presignPut(key: string, expiresInSeconds: number): Promise<string> {
    if (
      !Number.isInteger(expiresInSeconds) ||
      expiresInSeconds < 1 ||
      expiresInSeconds > MAX_PRESIGN_SECONDS
    ) {
      throw storageError("presign", `expiry must be a whole number of seconds in 1..${MAX_PRESIGN_SECONDS}`);
    }
    const command = new PutObjectCommand({ Bucket: this.#bucket, Key: key });
    try {
      return await getSignedUrl(this.#client, command, { expiresIn: expiresInSeconds });
    } catch {
      throw storageError("presign", "the request could not be signed");
    }
  }

  /**
   * Runs one SDK call: a missing object (404 NoSuchKey / NotFound) is null, anything else a
   * TheoryError naming only the S3 error code and status, never the URL or credentials.
   * A HEAD carries no error body, so for head any 404 (also a missing bucket) reads as missing.
   */
  async #send<T>(
    operation: "put" | "get" | "read" | "head" | "delete",
    call: () => Promise<T>,
  ): Promise<T | null> {
    try {
      return await call();
    } catch (error) {
      if (error instanceof TheoryError) throw error;
      if (error instanceof S3Failure) {
        const status = error.$metadata.httpStatusCode;
        if (operation !== "put" && (error.name === "NoSuchKey" || (operation === "head" && status === 404))) {
          return null;
        }
        throw storageError(operation, `${error.name} (HTTP ${status})`);
      }
      const name = error instanceof Error ? safeName(error.name) : "unknown";
      throw storageError(operation, `no usable answer from the S3 endpoint (${name})`);
    }
  }
}

/**
 * An S3 error response: `name` is its `<Code>`, `$metadata`/`$fault` are what the SDK's retry
 * strategy reads, so throttling and 5xx answers are still retried.
 */
class S3Failure extends Error {
  readonly $metadata: { httpStatusCode: number };
  readonly $fault: "client" | "server";

  constructor(code: string, status: number) {
    super(`S3 answered ${code} (HTTP ${status})`);
    this.name = code;
    this.$metadata = { httpStatusCode: status };
    this.$fault = status >= 500 ? "server" : "client";
  }
}

/**
 * Reads S3 error responses before the SDK's deserializer does. Bundlers targeting workerd (wrangler,
 * the vitest plugin) resolve the SDK's "browser" XML parser, which needs DOMParser, which workerd
 * lacks: there the SDK cannot read an error body at all. Taking the `<Code>` here gives one error
 * path in workerd and Node alike. Success responses pass through untouched.
 */
function readErrorCodes<Args, Output extends { response: unknown }>(next: (args: Args) => Promise<Output>) {
  return async (args: Args): Promise<Output> => {
    const result = await next(args);
    const response = result.response as { statusCode?: number; body?: BodyInit | null };
    const status = response.statusCode ?? 0;
    if (status < 300) return result;
    const text = response.body ? await new Response(response.body).text() : "";
    const code = /<Code>([^<]*)<\/Code>/.exec(text)?.[1];
    throw new S3Failure(code ? safeName(code) : status === 404 ? "NotFound" : "UnknownError", status);
  };
}

/** Error names from the wire are echoed only when they look like an identifier. */
function safeName(name: string): string {
  return /^[A-Za-z][A-Za-z0-9.]{0,63}$/.test(name) ? name : "error";
}
