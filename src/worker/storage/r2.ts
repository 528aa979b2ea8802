import { TheoryError } from "../../core/errors.ts";
import type { S3Settings } from "../config.ts";
import {
  type ByteRange,
  type ObjectReader,
  type ObjectStore,
  type StoredObject,
  storageError,
} from "./object-store.ts";
import { S3ObjectStore } from "./s3.ts";

/**
 * An ObjectStore over the R2 binding. The binding cannot presign, so presigned URLs come from R2's
 * S3-compatible API through the S3 store built from the S3_* settings, when they are configured.
 */
export class R2ObjectStore implements ObjectStore {
  readonly #bucket: R2Bucket;
  readonly #presigner: S3ObjectStore | undefined;

  constructor(bucket: R2Bucket, s3?: S3Settings) {
    this.#bucket = bucket;
    this.#presigner = s3 ? new S3ObjectStore(s3) : undefined;
  }

  async put(key: string, bytes: Uint8Array, contentType: string): Promise<{ etag: string }> {
    const object = await this.#call("put", () =>
      this.#bucket.put(key, bytes, { httpMetadata: { contentType } }),
    );
    if (!object) throw storageError("put", "R2 stored nothing");
    return { etag: object.etag };
  }

  async get(key: string): Promise<StoredObject | null> {
    return this.#call("get", async () => {
      const object = await this.#bucket.get(key);
      if (!object) return null;
      return { bytes: new Uint8Array(await object.arrayBuffer()), etag: object.etag };
    });
  }

  async head(key: string): Promise<{ etag: string; size: number } | null> {
    const object = await this.#call("head", () => this.#bucket.head(key));
    return object ? { etag: object.etag, size: object.size } : null;
  }

  async read(key: string, range?: ByteRange): Promise<ObjectReader | null> {
    const object = await this.#call("read", () => this.#bucket.get(key, range ? { range } : {}));
    if (!object) return null;
    const contentType = object.httpMetadata?.contentType;
    return {
      body: object.body,
      etag: object.etag,
      size: object.size,
      ...(contentType ? { contentType } : {}),
    };
  }

  async delete(keys: readonly string[]): Promise<void> {
    if (keys.length > 0) await this.#call("delete", () => this.#bucket.delete([...keys]));
  }

  async presignPut(key: string, expiresInSeconds: number): Promise<string> {
    if (!this.#presigner) {
      throw new TheoryError("ERR_INPUTS", "world scope needs S3_* settings for presigned URLs");
    }
    return this.#presigner.presignPut(key, expiresInSeconds);
  }

  /** R2's errors say what failed but are not ours to echo; they become ERR_INTERNAL. */
  async #call<T>(operation: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch {
      throw storageError(operation, "the R2 binding failed");
    }
  }
}
