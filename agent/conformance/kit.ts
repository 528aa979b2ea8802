// The processor contract as a list of checks, run one after another against any processor.
import { TheoryError } from "../../src/core/errors.ts";
import type { Logger } from "../../src/core/log.ts";
import { DETERMINISM_CHECKS } from "./checks/determinism.ts";
import { ENVELOPE_CHECKS } from "./checks/envelope.ts";
import { HTTP_CHECKS } from "./checks/http.ts";
import { PATH_CHECKS } from "./checks/paths.ts";
import { WS_PROTOCOL_CHECKS } from "./checks/ws-protocol.ts";
import { WS_SESSION_CHECKS } from "./checks/ws-session.ts";
import { sampleInputs } from "./fixtures.ts";
import { type Check, type CheckStatus, type ConformanceTarget, KitSession } from "./session.ts";

export type { ConformanceTarget } from "./session.ts";

/** Every check, in the order the report lists them. */
export const CHECKS: readonly Check[] = [
  ...HTTP_CHECKS,
  ...WS_SESSION_CHECKS,
  ...WS_PROTOCOL_CHECKS,
  ...ENVELOPE_CHECKS,
  ...DETERMINISM_CHECKS,
  ...PATH_CHECKS,
];

/** The longest any one check may take before it counts as failed (a processor that hangs). */
export const CHECK_BUDGET_MS = 60_000;

export interface CheckResult {
  name: string;
  rule: string;
  status: CheckStatus;
  message: string;
  observed?: unknown;
  expected?: unknown;
  elapsed_ms: number;
}

export interface ConformanceResult {
  status: "pass" | "fail";
  target: { url: string; tool: string; image_digest?: string; env_fingerprint?: string; artifacts?: string };
  checks: CheckResult[];
  summary: { total: number; passed: number; failed: number; skipped: number };
}

/** One check against a session, never throwing: an exception or a blown budget is that check failing. */
export async function runCheck(check: Check, session: KitSession): Promise<CheckResult> {
  const started = Date.now();
  let budget: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    check.run(session),
    new Promise<never>((_, reject) => {
      budget = setTimeout(
        () => reject(new Error(`no outcome within ${CHECK_BUDGET_MS / 1000} s`)),
        CHECK_BUDGET_MS,
      );
    }),
  ])
    .catch((error: Error) => ({
      status: "fail" as const,
      message: `the check could not complete: ${error.message}`,
    }))
    .finally(() => clearTimeout(budget));
  return { name: check.name, rule: check.rule, ...outcome, elapsed_ms: Date.now() - started };
}

/**
 * Runs the checks (all, or those named in `only`) against `target`, in order, and sums them up.
 * Fails closed before any check: an unknown check name or a tool the kit has no inputs for is ERR_INPUTS.
 */
export async function runConformance(
  target: ConformanceTarget,
  options: { only?: readonly string[]; log?: Logger } = {},
): Promise<ConformanceResult> {
  sampleInputs(target.tool);
  const unknown = (options.only ?? []).filter((name) => !CHECKS.some((check) => check.name === name));
  if (unknown.length > 0)
    throw new TheoryError(
      "ERR_INPUTS",
      `no such check: ${unknown.join(", ")} (checks: ${CHECKS.map((c) => c.name).join(", ")})`,
    );
  const chosen = options.only ? CHECKS.filter((check) => options.only?.includes(check.name)) : CHECKS;
  const session = new KitSession(target);
  const checks: CheckResult[] = [];
  try {
    for (const check of chosen) {
      const result = await runCheck(check, session);
      options.log?.info("conformance.check", {
        check: result.name,
        status: result.status,
        elapsed_ms: result.elapsed_ms,
      });
      checks.push(result);
    }
  } finally {
    await session.cleanup();
  }
  const count = (status: CheckStatus) => checks.filter((check) => check.status === status).length;
  const failed = count("fail");
  return {
    status: failed === 0 ? "pass" : "fail",
    target: {
      url: target.url,
      tool: target.tool.ref,
      ...(session.identity.imageDigest ? { image_digest: session.identity.imageDigest } : {}),
      ...(session.identity.envFingerprint ? { env_fingerprint: session.identity.envFingerprint } : {}),
      ...(target.artifactsDir ? { artifacts: target.artifactsDir } : {}),
    },
    checks,
    summary: { total: checks.length, passed: count("pass"), failed, skipped: count("skip") },
  };
}

const MARK: Record<CheckStatus, string> = { pass: "PASS", fail: "FAIL", skip: "SKIP" };

/** The report for a terminal: a line per check (failures with observed and expected), then a summary. */
export function renderReport(result: ConformanceResult): string {
  const lines = [`theory conformance: ${result.target.tool} at ${result.target.url}`, ""];
  for (const check of result.checks) {
    lines.push(`${MARK[check.status]}  ${check.name}: ${check.message}`);
    if (check.status !== "fail") continue;
    lines.push(`      rule:     ${check.rule}`);
    if (check.observed !== undefined) lines.push(`      observed: ${JSON.stringify(check.observed)}`);
    if (check.expected !== undefined) lines.push(`      expected: ${JSON.stringify(check.expected)}`);
  }
  const { total, passed, failed, skipped } = result.summary;
  lines.push(
    "",
    `${result.status === "pass" ? "conformant" : "NOT conformant"}: ${passed} passed, ${failed} failed` +
      `${skipped ? `, ${skipped} skipped` : ""} of ${total} checks`,
  );
  return `${lines.join("\n")}\n`;
}
