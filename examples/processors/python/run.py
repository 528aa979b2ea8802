"""One run of echo/text@1: write the text, then the index, and answer with the envelope."""

import errno
import os
import stat
import urllib.error
import urllib.request

from contract import (
    ARTIFACTS,
    ETAG,
    INDEX,
    OUTPUTS,
    Canceled,
    ContractError,
    canonical,
    error_envelope,
    md5_hex,
)


def _outside(what):
    return ContractError("ERR_INPUTS", f"refusing to write outside write_prefix: {what}")


def _inside(parent, child):
    return child == parent or child.startswith(parent.rstrip(os.sep) + os.sep)


def _directory_inside(base, segments, bound):
    """Creates `segments` below `base` one at a time, so a planted symlink is seen before anything
    is created through it; a symlink is followed only when its real target stays inside `bound`."""
    current = base
    for segment in segments:
        following = os.path.join(current, segment)
        try:
            info = os.lstat(following)
        except FileNotFoundError:
            try:
                os.mkdir(following)
            except FileExistsError:
                pass
        else:
            if stat.S_ISLNK(info.st_mode):
                if not _inside(bound, os.path.realpath(following)):
                    raise _outside(f"{segment} is a symlink leading out")
            elif not stat.S_ISDIR(info.st_mode):
                raise _outside(f"{segment} is not a directory")
        current = following
    real = os.path.realpath(current)
    if not _inside(bound, real):
        raise _outside("the resolved directory")
    return real


class LocalSink:
    """Local scope: files under ARTIFACTS_ROOT + (write_prefix without /artifacts/)."""

    def __init__(self, artifacts_root, write_prefix):
        os.makedirs(artifacts_root, exist_ok=True)
        root = os.path.realpath(artifacts_root)
        segments = [s for s in write_prefix[len(ARTIFACTS):].split("/") if s]
        self.prefix = _directory_inside(root, segments, root)

    def put(self, path, data):
        *parents, name = path.split("/")
        directory = _directory_inside(self.prefix, parents, self.prefix)
        flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
        try:
            handle = os.open(os.path.join(directory, name), flags, 0o644)
        except OSError as error:
            if error.errno == errno.ELOOP:
                raise _outside(f"{path} is a symlink") from None
            raise
        with os.fdopen(handle, "wb") as file:
            file.write(data)
        return md5_hex(data)


class WorldSink:
    """World scope: one PUT per file to the presigned URL the payload gave for it."""

    def __init__(self, urls):
        self.urls = urls

    def put(self, path, data):
        request = urllib.request.Request(self.urls[path], data=data, method="PUT")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                etag = (response.headers.get("etag") or "").replace('"', "")
        except urllib.error.HTTPError as error:
            raise ContractError("ERR_INTERNAL", f"storing {path} failed: HTTP {error.code}") from None
        except OSError:
            raise ContractError("ERR_INTERNAL", f"storing {path} failed: store not reachable") from None
        if not ETAG.fullmatch(etag):
            raise ContractError("ERR_INTERNAL", f"storing {path} failed: the store returned no usable ETag")
        return etag


def run_echo(payload, config, canceled):
    """The envelope for a checked payload; never raises (a failure is an error envelope)."""
    identity = config.identity()
    run_id = payload["run_id"]
    try:
        files = {OUTPUTS[0]: payload["inputs"]["params"]["text"].encode("utf-8", "surrogatepass")}
        world_id = payload.get("world_id")
        if world_id:
            sink, prefix = WorldSink(payload["outputs"]), f"world://{world_id}/{run_id}/"
        else:
            sink = LocalSink(config.artifacts_root, payload["write_prefix"])
            prefix = "local://" + payload["write_prefix"][len(ARTIFACTS):]
        etags, index = {}, []
        for path in sorted(files):
            if canceled.is_set():
                raise Canceled()
            etags[path] = sink.put(path, files[path])
            index.append({"etag": etags[path], "path": path, "size": len(files[path])})
        sink.put(INDEX, canonical({"outputs": index, "run_id": run_id}).encode("utf-8"))
        return {
            "status": "success",
            "run_id": run_id,
            "outputs": [{"path": prefix + path} for path in sorted(files)],
            "index_path": prefix + INDEX,
            "meta": {**identity, "proof": {"etag_map": etags}},
        }
    except Canceled:
        return error_envelope(run_id, "ERR_CANCELED", "the run was canceled", identity)
    except ContractError as error:
        return error_envelope(run_id, error.code, error.message, identity)
    except Exception as error:  # unknown failures never leak their message
        config.log("error", "error.tool.crash", execution_id=run_id, error=type(error).__name__)
        return error_envelope(run_id, "ERR_INTERNAL", "internal error", identity)
