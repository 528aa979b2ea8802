# The Modal app serving llm/litellm@1, written by `theory modalctl deploy-file --ref llm/litellm@1`
# from registry.yaml: write it again rather than editing it. Deploy it with Modal's CLI
# (`modal deploy <this file>`), then register it with the control plane:
#     theory modalctl start --web --ref llm/litellm@1
# The processor image runs by its pinned digest as an autoscaling web endpoint that only answers
# requests carrying Modal proxy auth (Modal-Key, Modal-Secret) and, for /run, its PROCESSOR_TOKEN.
import subprocess

import modal

IMAGE = "127.0.0.1:5000/theory/processor@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
PORT = 8000

app = modal.App("theory-llm-litellm-1")

# Modal runs the function with Python, which the processor image lacks: added beside it.
image = modal.Image.from_registry(IMAGE, add_python="3.12").env(
    {
        "IMAGE_DIGEST": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        "ENV_FINGERPRINT": "cpu:1;memory:2Gi",
        "TOOL_REF": "llm/litellm@1",
        "PORT": "8000",
    }
)


@app.function(
    image=image,
    cpu=1.0,
    memory=2048,
    timeout=120,
    secrets=[
        modal.Secret.from_name("theory-llm-litellm-1-secrets"),
        modal.Secret.from_name("theory-llm-litellm-1-processor-token"),
    ],
)
@modal.concurrent(max_inputs=100)
@modal.web_server(PORT, startup_timeout=60, requires_proxy_auth=True)
def serve():
    subprocess.Popen(["node", "/app/processor.mjs"])
