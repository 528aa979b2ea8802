import { describe, expect, it } from "vitest";
import {
  MAX_METADATA_KEYS,
  MAX_METADATA_VALUE_CHARS,
  MAX_RUN_PAGE,
  MAX_TAGS,
  RunListQuerySchema,
  RunRequestSchema,
  RunResourceSchema,
  RunSummarySchema,
} from "../../src/contract/api.ts";
import { runRequest } from "../support/examples.ts";
import { expectIssueAt } from "../support/zod.ts";

describe("tags and metadata on a run request", () => {
  it("accepts a few short tags and a small flat object of strings, and the resource returns them", () => {
    const request = {
      ...runRequest(),
      tags: ["nightly", "team:ml", "pr-42"],
      metadata: { commit: "abc123" },
    };
    expect(RunRequestSchema.parse(request)).toMatchObject({ tags: request.tags, metadata: request.metadata });
    const resource = {
      run_id: "run-1",
      ref: "llm/litellm@1",
      target: "local",
      state: "running",
      envelope: null,
      tags: request.tags,
      metadata: request.metadata,
    };
    expect(RunResourceSchema.safeParse(resource).success).toBe(true);
  });

  it.each([
    ["too many tags", { tags: Array.from({ length: MAX_TAGS + 1 }, (_, i) => `t${i}`) }, ["tags"]],
    ["a repeated tag", { tags: ["a", "a"] }, ["tags"]],
    ["an empty tag", { tags: [""] }, ["tags", 0]],
    ["a long tag", { tags: ["x".repeat(65)] }, ["tags", 0]],
    ["a tag with a space", { tags: ["two words"] }, ["tags", 0]],
    ["a nested metadata value", { metadata: { a: { b: "c" } } }, ["metadata", "a"]],
    ["a number as metadata value", { metadata: { a: 1 } }, ["metadata", "a"]],
    [
      "a long metadata value",
      { metadata: { a: "x".repeat(MAX_METADATA_VALUE_CHARS + 1) } },
      ["metadata", "a"],
    ],
    ["a bad metadata key", { metadata: { "no spaces": "x" } }, ["metadata", "no spaces"]],
    [
      "too many metadata keys",
      {
        metadata: Object.fromEntries(Array.from({ length: MAX_METADATA_KEYS + 1 }, (_, i) => [`k${i}`, "v"])),
      },
      ["metadata"],
    ],
  ])("refuses %s, naming the field", (_name, extra, path) => {
    expectIssueAt(RunRequestSchema, { ...runRequest(), ...extra }, path);
  });
});

describe("the run listing query", () => {
  it("takes every filter, a cursor and a limit (query strings)", () => {
    const query = {
      ref: "llm/litellm@1",
      state: "succeeded",
      target: "local",
      agent: "dev-box",
      tag: "nightly",
      created_after: "2026-01-01T00:00:00Z",
      created_before: "2026-01-02T00:00:00.000+02:00",
      cursor: "abc",
      limit: "50",
    };
    expect(RunListQuerySchema.parse(query)).toMatchObject({ limit: 50, state: "succeeded" });
    expect(RunListQuerySchema.parse({})).toEqual({});
  });

  it.each([
    ["an unknown state", { state: "done" }, ["state"]],
    ["a limit over the maximum", { limit: String(MAX_RUN_PAGE + 1) }, ["limit"]],
    ["a limit that is no number", { limit: "ten" }, ["limit"]],
    ["a limit of zero", { limit: "0" }, ["limit"]],
    ["a date that is no date", { created_after: "yesterday" }, ["created_after"]],
    ["a malformed ref", { ref: "LLM" }, ["ref"]],
    ["an unknown filter", { owner: "me" }, []],
  ])("refuses %s", (_name, query, path) => {
    expectIssueAt(RunListQuerySchema, query, path);
  });

  it("a summary has no envelope, and its labels are optional", () => {
    const summary = {
      run_id: "run-1",
      ref: "llm/litellm@1",
      target: "modal",
      state: "failed",
      created_at: "2026-01-01T00:00:00.000Z",
      settled_at: "2026-01-01T00:00:01.000Z",
    };
    expect(RunSummarySchema.safeParse(summary).success).toBe(true);
    expectIssueAt(RunSummarySchema, { ...summary, envelope: null }, []);
  });
});
