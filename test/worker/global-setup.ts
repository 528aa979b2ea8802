import type { TestProject } from "vitest/node";
import { startS3 } from "../support/s3.ts";

/** Real peers the workerd tests talk to over loopback; they run here in Node. */
export default async function setup(project: TestProject) {
  const s3 = await startS3("theory");
  project.provide("s3Endpoint", s3.endpoint);
  return () => s3.close();
}

declare module "vitest" {
  export interface ProvidedContext {
    s3Endpoint: string;
  }
}
