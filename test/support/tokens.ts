import type { Scope } from "../../src/contract/api.ts";
import { processorAuthHeaders } from "../../src/core/processor-auth.ts";

/** Bearer tokens the workerd tests use; the Worker only ever sees their SHA-256. */
export const TEST_TOKENS = {
  admin: { value: "test-admin-token-0123456789", scopes: ["runs:write", "runs:read", "endpoints:write"] },
  reader: { value: "test-reader-token-0123456789", scopes: ["runs:read"] },
  writer: { value: "test-writer-token-0123456789", scopes: ["runs:write"] },
  agent: { value: "test-agent-token-0123456789", scopes: ["agents:connect"], agent: "dev-box" },
  unbound: { value: "test-unbound-agent-token-012345", scopes: ["agents:connect"] },
} satisfies Record<string, { value: string; scopes: Scope[]; agent?: string }>;

const whsec = (seed: string) => `whsec_${btoa(seed.padEnd(32, "-"))}`;

/** CI sources the workerd tests sign inbound hooks with. */
export const TEST_HOOKS = {
  standard: { name: "ci", kind: "standard", secret: whsec("theory-test-ci-hook-secret") },
  github: { name: "gh", kind: "github", secret: "theory-test-github-hook-secret" },
} as const;

/** The control plane signs its outbound webhooks with this; the test receiver verifies with it. */
export const TEST_WEBHOOK_SIGNING_SECRET = whsec("theory-test-outbound-signing");

/** The Modal proxy-auth pair the worker-s3 project is configured with (MODAL_PROXY_KEY/SECRET). */
export const TEST_MODAL_PROXY = { key: "wk-theory-test-proxy-key", secret: "ws-theory-test-proxy-secret" };

/**
 * The processor token every test processor is started with (PROCESSOR_TOKEN) and every test that
 * talks to one sends (src/core/processor-auth.ts builds the header).
 */
export const TEST_PROCESSOR_TOKEN = "tpt_theory-test-processor-token-0123456789";
/** What a test sends to be admitted by a test processor. */
export const TEST_PROCESSOR_AUTH = processorAuthHeaders(TEST_PROCESSOR_TOKEN);
