import { cloudflareTest } from "@cloudflare/vitest-plugin";
import { defineConfig } from "vitest/config";
import { authTokensBinding } from "./test/support/tokens.ts";

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
      {
        plugins: [
          cloudflareTest(({ inject }) => ({
            wrangler: { configPath: "./wrangler.toml" },
            miniflare: {
              // Test settings over wrangler.toml: tokens known to the tests, and S3 presigning
              // against the s3rver the global setup started.
              bindings: {
                AUTH_TOKENS: authTokensBinding(),
                ENDPOINT_POLICY: "https+loopback",
                LOG_LEVEL: "warn",
                HEALTH_BUDGET_MS: "600",
                S3_ENDPOINT: inject("s3Endpoint"),
                S3_REGION: "us-east-1",
                S3_BUCKET: "theory",
                S3_ACCESS_KEY_ID: "S3RVER",
                S3_SECRET_ACCESS_KEY: "S3RVER",
              },
            },
          })),
        ],
        test: {
          name: "worker",
          include: ["test/shared/**/*.test.ts", "test/worker/**/*.test.ts"],
          globalSetup: ["test/worker/global-setup.ts"],
          // Files share one Miniflare's storage (the endpoint registry above all): run them in turn.
          fileParallelism: false,
        },
      },
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
