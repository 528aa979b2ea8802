"""The processor contract for echo/text@1: payload checks, canonical JSON, envelopes, artifacts.

docs/contract.md is the reference; docs/processors.md walks through this file.
"""

import hashlib
import json
import re

ARTIFACTS = "/artifacts/"
INDEX = "outputs.json"
TOOL_REF = "echo/text@1"
OUTPUTS = ("text/echo.txt",)
MAX_BYTES = 1024 * 1024
MAX_SEGMENT = 255

RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
WORLD_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
RELATIVE_PATH = re.compile(rf"{SEGMENT}(/{SEGMENT})*")
ABSOLUTE_DIR = re.compile(rf"/({SEGMENT}/)+")
DIGEST = re.compile(r"sha256:[a-f0-9]{64}")
FINGERPRINT = re.compile(r"[a-z]+:[^;:\s]+(;[a-z]+:[^;:\s]+)*")
ETAG = re.compile(r"[a-f0-9]{32}(-[0-9]+)?")
INPUT_VERSION = re.compile(r"v[1-9][0-9]*")
PAYLOAD_KEYS = {"run_id", "mode", "inputs", "write_prefix", "outputs", "world_id", "settle"}


class ContractError(Exception):
    """A failure with a stable code from the error taxonomy (docs/contract.md#error-codes)."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


class Canceled(Exception):
    """The client sent Cancel before the run wrote its files."""


def canonical(value):
    """RFC 8785 for the shapes this processor emits: keys sorted by UTF-16 code units, no
    whitespace, strings escaped as JSON.stringify does, integers only."""
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda item: item[0].encode("utf-16-be"))
        return "{" + ",".join(f"{canonical(key)}:{canonical(item)}" for key, item in items) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ",".join(canonical(item) for item in value) + "]"
    if value is True or value is False or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    raise TypeError(f"no canonical form for {type(value).__name__}")


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def write_prefix_problem(prefix):
    """Why `prefix` is not a valid write_prefix, or None (docs/contract.md#write_prefix)."""
    if len(prefix) > 1024:
        return "must be at most 1024 characters"
    if not prefix.startswith("/"):
        return "must be absolute"
    if "~" in prefix:
        return "must be expanded (no ~)"
    if any(segment in (".", "..") for segment in prefix.split("/")):
        return "must not contain . or .."
    if not prefix.endswith("/"):
        return "must end with /"
    if not ABSOLUTE_DIR.fullmatch(prefix):
        return "must be a normalized path of [A-Za-z0-9._-] segments"
    if any(len(segment) > MAX_SEGMENT for segment in prefix.split("/")):
        return f"must have segments of at most {MAX_SEGMENT} characters"
    if not prefix.startswith(ARTIFACTS) or prefix == ARTIFACTS:
        return f"must be under {ARTIFACTS}"
    return None


def readable_run_id(raw):
    run_id = raw.get("run_id") if isinstance(raw, dict) else None
    return run_id if isinstance(run_id, str) and RUN_ID.fullmatch(run_id) else None


def payload_problem(raw):
    """What is wrong with a payload, naming the field, or None when it can run."""
    if not isinstance(raw, dict):
        return "payload: must be a JSON object"
    extra = sorted(set(raw) - PAYLOAD_KEYS)
    if extra:
        return f"payload: unknown key(s) {', '.join(extra)}"
    if readable_run_id(raw) is None:
        return "payload.run_id: must be 1-128 of [A-Za-z0-9_-], starting alphanumeric"
    if raw.get("mode") not in ("mock", "real"):
        return 'payload.mode: must be "mock" or "real"'
    if raw.get("settle") != "fast":
        return 'payload.settle: must be "fast"'
    prefix = raw.get("write_prefix")
    problem = write_prefix_problem(prefix) if isinstance(prefix, str) else "must be a string"
    if problem:
        return f"payload.write_prefix: write_prefix {problem}"
    outputs, world_id = raw.get("outputs"), raw.get("world_id")
    if (outputs is None) != (world_id is None):
        return "payload.world_id: world_id and outputs go together"
    if world_id is not None and not (isinstance(world_id, str) and WORLD_ID.fullmatch(world_id)):
        return "payload.world_id: must be 1-63 of [a-z0-9-], starting alphanumeric"
    if outputs is not None:
        if not isinstance(outputs, dict) or INDEX not in outputs:
            return f"payload.outputs: must map each output and {INDEX} to a URL"
        for path, url in outputs.items():
            if not RELATIVE_PATH.fullmatch(path) or not isinstance(url, str) or not re.match(r"https?://", url):
                return f"payload.outputs.{path}: must be a relative path mapped to an http(s) URL"
    return inputs_problem(raw.get("inputs"), outputs)


def inputs_problem(inputs, outputs):
    """echo/text@1's inputs: {"schema":"v1","params":{"text": up to 1 MiB}} (docs/contract.md#tool-inputs)."""
    if not isinstance(inputs, dict) or set(inputs) != {"schema", "params"}:
        return 'inputs: must be {"schema","params"}'
    if not isinstance(inputs["schema"], str) or not INPUT_VERSION.fullmatch(inputs["schema"]):
        return "inputs.schema: must name an input schema version such as v1"
    if inputs["schema"] != "v1":
        return f'inputs.schema: {TOOL_REF} has no input schema "{inputs["schema"]}" (supported: v1)'
    params = inputs["params"]
    if not isinstance(params, dict):
        return "inputs.params: must be an object"
    if set(params) - {"text"}:
        return f"inputs.params: unknown key(s) {', '.join(sorted(set(params) - {'text'}))}"
    if not isinstance(params.get("text"), str):
        return "inputs.params.text: must be a string"
    if len(params["text"]) > MAX_BYTES:
        return "inputs.params.text: must be at most 1048576 characters"
    if outputs is not None and sorted(outputs) != sorted((*OUTPUTS, INDEX)):
        return f"outputs must name exactly: {','.join(sorted((*OUTPUTS, INDEX)))}"
    return None


def short(message):
    return message if len(message) <= 512 else message[:511] + "…"


def error_envelope(run_id, code, message, identity):
    return {"status": "error", "run_id": run_id, "error": {"code": code, "message": short(message)}, "meta": identity}


def api_error(code, message, identity):
    """An error that belongs to no run (no readable run_id): the API error shape."""
    return {"status": "error", "error": {"code": code, "message": short(message)}, "meta": identity}
