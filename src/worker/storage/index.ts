import { TheoryError } from "../../core/errors.ts";
import type { ControlPlaneConfig } from "../config.ts";
import type { ObjectStore } from "./object-store.ts";
import { R2ObjectStore } from "./r2.ts";
import { S3ObjectStore } from "./s3.ts";

export type { ByteRange, ObjectReader, ObjectStore, StoredObject } from "./object-store.ts";

/** The store config.storage names: the R2 binding, or the S3 API from the S3_* settings. */
export function createObjectStore(config: ControlPlaneConfig, bucket: R2Bucket): ObjectStore {
  switch (config.storage) {
    case "r2":
      return new R2ObjectStore(bucket, config.s3);
    case "s3":
      if (!config.s3) throw new TheoryError("ERR_INTERNAL", 'STORAGE "s3" needs the S3_* settings');
      return new S3ObjectStore(config.s3);
  }
}
