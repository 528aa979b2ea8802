import type { WebSpec } from "./plan.ts";

/** How the processor image starts (processor/Dockerfile's CMD): the web function starts it so. */
export const PROCESSOR_COMMAND = ["node", "/app/processor.mjs"] as const;
/** The Python Modal adds to the image to run the function (the processor image has none). */
const ADD_PYTHON = "3.12";
/** Runs one container serves at once before Modal starts another: the processor is asynchronous. */
const MAX_INPUTS = 100;
/** How long Modal waits for the processor to listen in a new container. */
const STARTUP_TIMEOUT_S = 60;

/** The file `deploy-file` writes by default: the app's name as a Python module name. */
export const deployFileName = (app: string): string => `${app.replace(/-/g, "_")}.py`;

/** A Python literal for a string (JSON's escapes are Python's) or a number (cpu stays a float). */
const py = (value: string | number): string =>
  typeof value === "string" ? JSON.stringify(value) : Number.isInteger(value) ? `${value}.0` : String(value);

/**
 * The ref's Modal app (`modalctl deploy-file`), from one template: the processor image by its
 * pinned digest, the registry's resources, its secrets (the tool's, and the one holding
 * PROCESSOR_TOKEN), served as an autoscaling web server on the tool's port behind Modal proxy
 * auth. The same registry entry always gives the same bytes.
 */
export function renderModalApp(spec: WebSpec): string {
  const env = Object.entries(spec.env).map(([name, value]) => `        ${py(name)}: ${py(value)},`);
  const secrets = [spec.secret, spec.tokenSecret]
    .filter((name): name is string => name !== undefined)
    .map((name) => `        modal.Secret.from_name(${py(name)}),`);
  return `# The Modal app serving ${spec.ref}, written by \`theory modalctl deploy-file --ref ${spec.ref}\`
# from registry.yaml: write it again rather than editing it. Deploy it with Modal's CLI
# (\`modal deploy <this file>\`), then register it with the control plane:
#     theory modalctl start --web --ref ${spec.ref}
# The processor image runs by its pinned digest as an autoscaling web endpoint that only answers
# requests carrying Modal proxy auth (Modal-Key, Modal-Secret) and, for /run, its PROCESSOR_TOKEN.
import subprocess

import modal

IMAGE = ${py(spec.image)}
PORT = ${spec.port}

app = modal.App(${py(spec.app)})

# Modal runs the function with Python, which the processor image lacks: added beside it.
image = modal.Image.from_registry(IMAGE, add_python=${py(ADD_PYTHON)}).env(
    {
${env.join("\n")}
    }
)


@app.function(
    image=image,
    cpu=${py(spec.cpu)},
    memory=${spec.memoryMiB},
    timeout=${spec.timeoutS},
    secrets=[
${secrets.join("\n")}
    ],
)
@modal.concurrent(max_inputs=${MAX_INPUTS})
@modal.web_server(PORT, startup_timeout=${STARTUP_TIMEOUT_S}, requires_proxy_auth=True)
def ${spec.function}():
    subprocess.Popen([${PROCESSOR_COMMAND.map(py).join(", ")}])
`;
}
