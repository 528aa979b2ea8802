// Every failure the page shows: its ERR_* code, its message, and the README's fix for that code.
import type { ErrorBody } from "../src/contract/envelope.ts";
import { TheoryError } from "../src/core/errors.ts";
import { h, withCode } from "./dom.ts";

/** README.md's "Troubleshooting by error code" table, put in by the build (scripts/lib/dashboard-build.ts). */
declare const THEORY_TROUBLESHOOTING: Readonly<Record<string, { cause: string; fix: string }>>;

/** What went wrong, as an error body: a TheoryError's code and message; anything else is unexpected. */
export function errorBody(error: unknown): ErrorBody {
  if (error instanceof TheoryError) return error.toBody();
  return { code: "ERR_INTERNAL", message: error instanceof Error ? error.message : String(error) };
}

/** An alert with the code, the message, and what the README says to do about it. */
export function problem(error: unknown, heading?: string): HTMLElement {
  const body = isErrorBody(error) ? error : errorBody(error);
  const advice = THEORY_TROUBLESHOOTING[body.code];
  const fix = advice && advice.fix !== "—" ? advice.fix : undefined;
  return h(
    "div",
    { class: "problem", role: "alert" },
    heading ? h("p", { class: "problem-heading" }, heading) : null,
    h("p", {}, h("code", { class: "error-code" }, body.code), " ", body.message),
    advice ? h("p", { class: "cause" }, "Usual cause: ", ...withCode(advice.cause)) : null,
    fix ? h("p", { class: "fix" }, h("strong", {}, "Fix: "), ...withCode(fix)) : null,
    body.stderr_tail ? h("pre", { class: "stderr", "aria-label": "stderr tail" }, body.stderr_tail) : null,
  );
}

function isErrorBody(value: unknown): value is ErrorBody {
  return (
    !(value instanceof Error) &&
    typeof value === "object" &&
    value !== null &&
    typeof (value as ErrorBody).code === "string" &&
    typeof (value as ErrorBody).message === "string"
  );
}
