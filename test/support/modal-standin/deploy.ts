import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";

/** One function of a Modal app file, as the stand-in package recorded it (python/modal/__init__.py). */
export interface DeclaredFunction {
  name: string;
  image: { registry: string; add_python: string | null; env: Record<string, string> };
  secrets: string[];
  cpu: number | null;
  memory: number | null;
  timeout: number | null;
  concurrent: { max_inputs: number | null; target_inputs: number | null } | null;
  web_server: { port: number; startup_timeout: number; requires_proxy_auth: boolean } | null;
  /** What the function starts when a container runs it. */
  command: string[] | null;
}

export interface DeclaredApp {
  app: string;
  functions: DeclaredFunction[];
}

/**
 * What `modal deploy FILE` would deploy: the file run by the real Python against a stand-in `modal`
 * package (no PyPI here), which records the apps it declares. Hand the result to ModalStandin.deploy.
 */
export async function declaredApps(file: string): Promise<DeclaredApp[]> {
  const { stdout } = await promisify(execFile)("python3", [
    join(import.meta.dirname, "python", "deploy.py"),
    file,
  ]);
  return JSON.parse(stdout) as DeclaredApp[];
}
