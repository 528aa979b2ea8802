// write_prefix discipline (docs/contract.md#write_prefix): a bad prefix is ERR_INPUTS, and no run
// writes outside its prefix, through a planted symlink or otherwise.
import { lstat, mkdir, readdir, rm, symlink } from "node:fs/promises";
import { dirname, join, posix, resolve } from "node:path";
import { MAX_SEGMENT_BYTES, OUTPUT_INDEX } from "../../../src/contract/primitives.ts";
import { type Check, fail, type KitSession, pass, runResultOf, skip } from "../session.ts";

/** Prefixes every processor must refuse, by what is wrong with them. */
export const ADVERSARIAL_PREFIXES: readonly (readonly [what: string, prefix: string])[] = [
  ["a .. escape", "/artifacts/conformance/../../etc/"],
  ["an absolute path outside /artifacts/", "/etc/conformance/"],
  ["/artifacts/ itself", "/artifacts/"],
  ["a sibling of /artifacts/", "/artifacts-evil/conformance/"],
  ["a relative prefix", "artifacts/conformance/"],
  ["an unexpanded ~", "~/conformance/"],
  ["a ~ segment", "/artifacts/~/conformance/"],
  ["a . segment", "/artifacts/./conformance/"],
  ["an empty segment", "/artifacts//conformance/"],
  ["no trailing slash", "/artifacts/conformance"],
  ["a backslash", "/artifacts/conformance\\x/"],
  ["an over-long segment", `/artifacts/${"a".repeat(MAX_SEGMENT_BYTES + 1)}/`],
  ["an over-long prefix", `/artifacts/${`${"b".repeat(200)}/`.repeat(6)}`],
];

/** Which of `paths` exist now. */
async function existing(paths: readonly string[]): Promise<string[]> {
  const found = await Promise.all(
    paths.map((path) =>
      lstat(path).then(
        () => path,
        () => undefined,
      ),
    ),
  );
  return found.filter((path): path is string => path !== undefined);
}

/**
 * Where a processor that took `prefix` at its word would have written `files` on this machine:
 * mapped below the artifacts folder, and (absolute prefixes) at the literal path.
 */
function naiveTargets(artifacts: string, prefix: string, files: readonly string[]): string[] {
  const mapped = prefix.startsWith("/artifacts")
    ? resolve(artifacts, `.${prefix.slice("/artifacts".length)}`)
    : undefined;
  const literal = prefix.startsWith("/") ? prefix : undefined;
  return [mapped, literal]
    .filter((base): base is string => base !== undefined)
    .flatMap((base) => files.map((file) => resolve(base, file)));
}

/** The files below `dir`, relative, up to `limit` of them (undefined past it: too many to compare). */
async function filesBelow(dir: string, limit = 10_000): Promise<Set<string> | undefined> {
  const found = new Set<string>();
  const walk = async (relative: string): Promise<boolean> => {
    for (const entry of await readdir(join(dir, relative), { withFileTypes: true }).catch(() => [])) {
      const path = posix.join(relative, entry.name);
      found.add(path);
      if (found.size > limit) return false;
      if (entry.isDirectory() && !(await walk(path))) return false;
    }
    return true;
  };
  return (await walk("")) ? found : undefined;
}

/** What appeared in `after` that was not in `before`. */
const appeared = (before: Iterable<string>, after: Iterable<string>) => {
  const seen = new Set(before);
  return [...after].filter((name) => !seen.has(name));
};

/** One run over the WebSocket that must be refused: the ERR_INPUTS message, or what came instead. */
async function refused(session: KitSession, runId: string, writePrefix: string) {
  const talk = await session.runWs(session.payload(runId, { write_prefix: writePrefix }), {
    timeoutMs: 10_000,
  });
  const envelope = runResultOf(talk)?.envelope;
  if (envelope?.status === "error" && envelope.error?.code === "ERR_INPUTS")
    return { ok: true as const, message: String(envelope.error.message) };
  return {
    ok: false as const,
    observed: envelope
      ? { status: envelope.status, error: envelope.error }
      : { close: talk.code, reason: talk.reason },
  };
}

export const PATH_CHECKS: readonly Check[] = [
  {
    name: "paths.adversarial-prefixes",
    rule: "write_prefixes with .., absolute escapes, ~, empty or over-long segments are refused with ERR_INPUTS, writing nothing",
    async run(session) {
      const artifacts = session.target.artifactsDir;
      const files = [...session.target.tool.outputs, OUTPUT_INDEX];
      const targets = artifacts
        ? ADVERSARIAL_PREFIXES.flatMap(([, prefix]) => naiveTargets(artifacts, prefix, files))
        : [];
      const before = artifacts ? await filesBelow(artifacts) : undefined;
      const existedBefore = new Set(await existing(targets));
      for (const [what, prefix] of ADVERSARIAL_PREFIXES) {
        const answer = await refused(session, session.runId("adversarial"), prefix);
        if (!answer.ok)
          return fail(`${what} (${prefix.slice(0, 60)}) was not refused with ERR_INPUTS`, {
            observed: answer.observed,
            expected: { status: "error", error: { code: "ERR_INPUTS" } },
          });
      }
      if (!artifacts)
        return pass(`${ADVERSARIAL_PREFIXES.length} prefixes refused (files not checked: no --artifacts)`);
      const after = await filesBelow(artifacts);
      const written = [
        ...(before && after ? appeared(before, after) : []),
        ...(await existing(targets)).filter((path) => !existedBefore.has(path)),
      ];
      if (written.length > 0) return fail("refused runs left files behind", { observed: written });
      return pass(`${ADVERSARIAL_PREFIXES.length} prefixes refused, nothing written`);
    },
  },
  {
    name: "paths.symlinks",
    rule: "a symlink planted at the prefix, on the way, or at an output's name that leads out of the prefix is refused with ERR_INPUTS",
    async run(session) {
      const artifacts = session.target.artifactsDir;
      if (!artifacts) return skip("the kit cannot see the artifacts folder (--artifacts DIR, or --ref)");
      const output = session.target.tool.outputs[0] as string;
      const escapeName = `escape-${session.random()}`;
      const [firstDir] = output.includes("/") ? output.split("/") : [undefined];
      const depth = output.split("/").length - 1;
      // Relative targets, so a plant leads out of the folder the same way inside a container.
      const plants: { what: string; at: string; target: string }[] = [
        { what: "the prefix itself", at: "", target: "../../.." },
        ...(firstDir
          ? [{ what: `a directory on the way (${firstDir})`, at: firstDir, target: `../${escapeName}` }]
          : []),
        {
          what: `the output's own name (${output})`,
          at: output,
          target: `${"../".repeat(depth + 1)}${escapeName}/escaped-output`,
        },
      ];
      // Where a run following the plants would write: beside the artifacts folder (the prefix's
      // plant) and in a folder of the kit's inside it but outside the run's prefix (the others).
      const escapeDir = join(session.scratchDir as string, escapeName);
      await mkdir(escapeDir, { recursive: true });
      const outputs = [...session.target.tool.outputs, OUTPUT_INDEX];
      const beside = outputs.map((path) => join(dirname(artifacts), path));
      const besideBefore = new Set(await existing(beside));
      try {
        for (const plant of plants) {
          const runId = session.runId("symlink");
          const prefixDir = join(session.scratchDir as string, runId);
          const at = join(prefixDir, plant.at);
          await mkdir(dirname(at), { recursive: true });
          await symlink(plant.target, at);
          try {
            const answer = await refused(session, runId, `${session.scratchPrefix}${runId}/`);
            if (!answer.ok)
              return fail(
                `a symlink at ${plant.what} leading out (${plant.target}) was not refused with ERR_INPUTS`,
                {
                  observed: answer.observed,
                  expected: { status: "error", error: { code: "ERR_INPUTS" } },
                },
              );
            if ((await lstat(at)).isSymbolicLink() === false)
              return fail(`the symlink at ${plant.what} was replaced`);
          } finally {
            await rm(prefixDir, { recursive: true, force: true });
          }
        }
        const escaped = [
          ...(await readdir(escapeDir)).map((name) => join(escapeDir, name)),
          ...(await existing(beside)).filter((path) => !besideBefore.has(path)),
        ];
        if (escaped.length > 0) return fail("files were written outside the prefix", { observed: escaped });
      } finally {
        await rm(escapeDir, { recursive: true, force: true });
      }
      return pass(`${plants.length} planted symlinks refused, nothing written outside`);
    },
  },
];
