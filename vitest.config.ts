import { createHash } from "node:crypto";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import {
  TEST_HOOKS,
  TEST_MODAL_PROXY,
  TEST_TOKENS,
  TEST_WEBHOOK_SIGNING_SECRET,
} from "./test/support/tokens.ts";

/** AUTH_TOKENS for the test tokens: the Worker only ever sees their SHA-256. */
function authTokensBinding(): string {
  return JSON.stringify(
    Object.entries(TEST_TOKENS).map(([name, token]) => ({
      name,
      sha256: createHash("sha256").update(token.value).digest("hex"),
      scopes: token.scopes,
      ...("agent" in token ? { agent: token.agent } : {}),
    })),
  );
}

/** The run index's schema (migrations/), applied by each workerd test file's setup. */
const runIndexMigrations = await readD1Migrations("./migrations");

/** A workerd project over wrangler.toml, with test bindings: known tokens, S3 on the test s3rver. */
function workerProject(
  name: string,
  storage: "r2" | "s3",
  include: string[],
  extra: Record<string, string> = {},
) {
  return {
    plugins: [
      cloudflareTest(({ inject }) => ({
        wrangler: { configPath: "./wrangler.toml" },
        miniflare: {
          bindings: {
            STORAGE: storage,
            AUTH_TOKENS: authTokensBinding(),
            HOOK_SOURCES: JSON.stringify(Object.values(TEST_HOOKS)),
            WEBHOOK_SIGNING_SECRET: TEST_WEBHOOK_SIGNING_SECRET,
            ENDPOINT_POLICY: "https+loopback",
            LOG_LEVEL: "warn",
            HEALTH_BUDGET_MS: "1500",
            S3_ENDPOINT: inject("s3Endpoint"),
            S3_REGION: "us-east-1",
            S3_BUCKET: "theory",
            S3_ACCESS_KEY_ID: "S3RVER",
            S3_SECRET_ACCESS_KEY: "S3RVER",
            RUN_INDEX_MIGRATIONS: runIndexMigrations,
            ...extra,
          },
        },
      })),
    ],
    test: {
      name,
      include,
      globalSetup: ["test/worker/global-setup.ts"],
      setupFiles: ["test/worker/apply-migrations.ts"],
      // Files share one Miniflare's storage (the endpoint registry above all): run them in turn.
      fileParallelism: false,
      // A file's first request compiles the Worker (seconds on a loaded 2-core machine).
      testTimeout: 20_000,
    },
  };
}

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: "node",
          include: ["test/shared/**/*.test.ts", "test/node/**/*.test.ts"],
          environment: "node",
        },
      },
      workerProject("worker", "r2", ["test/shared/**/*.test.ts", "test/worker/**/*.test.ts"]),
      // The same Worker with STORAGE=s3: world scope, where presigned PUTs and storage are one store.
      // Settled runs kept two seconds: retention deleting a run's storage and objects (S3, as in production R2's API).
      workerProject("worker-retention", "s3", ["test/worker-retention/**/*.test.ts"], {
        RUN_RETENTION_SECONDS: "2",
      }),
      workerProject("worker-s3", "s3", ["test/worker-s3/**/*.test.ts"], {
        MODAL_PROXY_KEY: TEST_MODAL_PROXY.key,
        MODAL_PROXY_SECRET: TEST_MODAL_PROXY.secret,
      }),
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          globalSetup: ["test/e2e/global-setup.ts"],
          testTimeout: 120_000,
          hookTimeout: 300_000,
        },
      },
    ],
  },
});
