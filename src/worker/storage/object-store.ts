import { TheoryError } from "../../core/errors.ts";

/** An object's bytes and its ETag (unquoted; lowercase hex MD5 for single PUTs on S3 and R2). */
export interface StoredObject {
  bytes: Uint8Array;
  etag: string;
}

/** Bytes `offset` to `offset + length - 1` of an object. */
export interface ByteRange {
  offset: number;
  length: number;
}

/** An object being read: its bytes as they arrive (all, or the range asked for) and what it is. */
export interface ObjectReader {
  body: ReadableStream<Uint8Array>;
  etag: string;
  /** The whole object's size, whatever range is read. */
  size: number;
  /** As it was stored, when it was stored with one. */
  contentType?: string;
}

/** Where envelopes, receipts and world-scope artifacts live. Keys are chosen by callers. */
export interface ObjectStore {
  put(key: string, bytes: Uint8Array, contentType: string): Promise<{ etag: string }>;
  get(key: string): Promise<StoredObject | null>;
  head(key: string): Promise<{ etag: string; size: number } | null>;
  /** Streams the object (or `range` of it) without buffering it; null when there is none. */
  read(key: string, range?: ByteRange): Promise<ObjectReader | null>;
  /** Deletes these objects (a run's, at retention); a key with no object is no error. */
  delete(keys: readonly string[]): Promise<void>;
  /** A URL a processor can PUT the object's bytes to (plain PUT, no extra headers needed), valid expiresInSeconds. */
  presignPut(key: string, expiresInSeconds: number): Promise<string>;
}

/** The longest validity SigV4 allows for a presigned URL: seven days. */
export const MAX_PRESIGN_SECONDS = 604_800;

/** ETags as both backends return them on the wire are quoted (`"<md5>"`); the store never is. */
export function unquoteEtag(etag: string): string {
  return etag.replace(/^"(.*)"$/, "$1");
}

/** A storage failure as the one error type: the operation and a safe reason, never a URL or key material. */
export function storageError(operation: string, reason: string): TheoryError {
  return new TheoryError("ERR_INTERNAL", `object store ${operation} failed: ${reason}`);
}
