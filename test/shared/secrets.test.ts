import { describe, expect, it } from "vitest";
import { TheoryError } from "../../src/core/errors.ts";
import { requireSecrets } from "../../src/core/secrets.ts";

describe("requireSecrets", () => {
  it("gives every named secret's value from the environment", () => {
    expect(requireSecrets(["A", "B"], { A: "1", B: "2", C: "3" })).toEqual({ A: "1", B: "2" });
    expect(requireSecrets([], {})).toEqual({});
  });

  it("any absent or empty -> ERR_MISSING_SECRET naming every one missing, with the note", () => {
    expect(() => requireSecrets(["A", "B", "C"], { B: "2", C: "" })).toThrow(
      new TheoryError("ERR_MISSING_SECRET", "missing secret: A, C"),
    );
    try {
      requireSecrets(["A"], {}, "nothing was started");
      expect.unreachable();
    } catch (error) {
      expect(error).toMatchObject({
        code: "ERR_MISSING_SECRET",
        message: "missing secret: A (nothing was started)",
      });
    }
  });
});
