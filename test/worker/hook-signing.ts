import { Webhook } from "standardwebhooks";
import { TEST_HOOKS } from "../support/tokens.ts";
import { api, uniqueRunId } from "./support.ts";

/** A Standard Webhooks delivery of `body`, signed by the test CI source (or `secret`); `post` sends it. */
export function signedHook(body: string, options: { id?: string; at?: Date; secret?: string } = {}) {
  const id = options.id ?? `msg_${uniqueRunId("hook")}`;
  const at = options.at ?? new Date();
  const signature = new Webhook(options.secret ?? TEST_HOOKS.standard.secret).sign(id, at, body);
  return {
    id,
    post: (extra: Record<string, string> = {}) =>
      api("/v1/hooks/ci", {
        method: "POST",
        token: null,
        body,
        headers: {
          ...extra,
          "Content-Type": "application/json",
          "webhook-id": id,
          "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
          "webhook-signature": signature,
        },
      }),
  };
}

/** A GitHub delivery of `payload`, signed with X-Hub-Signature-256 by the test source (or `secret`). */
export async function githubHook(payload: object, options: { delivery?: string; secret?: string } = {}) {
  const body = JSON.stringify(payload);
  const key = await crypto.subtle.importKey(
    "raw",
    new TextEncoder().encode(options.secret ?? TEST_HOOKS.github.secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = [...new Uint8Array(await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(body)))]
    .map((b) => b.toString(16).padStart(2, "0"))
    .join("");
  return api("/v1/hooks/ci", {
    method: "POST",
    token: null,
    body,
    headers: {
      "Content-Type": "application/json",
      "X-Hub-Signature-256": `sha256=${mac}`,
      "X-GitHub-Delivery": options.delivery ?? crypto.randomUUID(),
    },
  });
}
