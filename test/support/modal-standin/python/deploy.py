"""`modal deploy FILE` against the stand-in package beside this file: imports the app file, calls
each web function the way a container would (the command it starts is recorded, not run), and
prints every app it declared as JSON. Standard library only."""
import json
import runpy
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import modal  # noqa: E402 (the stand-in, from the path above)

started = []
subprocess.Popen = lambda args, *rest, **options: started.append(list(args))

runpy.run_path(sys.argv[1], run_name="deployed_app")
apps = []
for app in modal.APPS:
    functions = []
    for declared in app.functions:
        started.clear()
        declared["callable"]()
        functions.append({**{k: v for k, v in declared.items() if k != "callable"}, "command": started[0] if started else None})
    apps.append({"app": app.name, "functions": functions})
print(json.dumps(apps))
