"""A stand-in for Modal's Python package: enough of its API to import a Theory deploy file
(agent/modalctl/deploy-file.ts) and record what the app declares, with Modal's own signatures, so
an argument Modal would refuse fails here too. Used by ../deploy.py; standard library only."""

APPS = []


class Image:
    def __init__(self, registry, add_python, env):
        self.registry = registry
        self.add_python = add_python
        self.env_vars = env

    @staticmethod
    def from_registry(tag, *, secret=None, setup_dockerfile_commands=(), force_build=False, add_python=None):
        return Image(tag, add_python, {})

    def env(self, vars):
        if not all(isinstance(k, str) and isinstance(v, str) for k, v in vars.items()):
            raise TypeError("Image.env takes a dict of strings")
        return Image(self.registry, self.add_python, {**self.env_vars, **vars})


class Secret:
    def __init__(self, name):
        self.name = name

    @staticmethod
    def from_name(name, *, environment_name=None, required_keys=()):
        return Secret(name)


def concurrent(*, max_inputs=None, target_inputs=None):
    def mark(fn):
        fn.__modal_concurrent__ = {"max_inputs": max_inputs, "target_inputs": target_inputs}
        return fn

    return mark


def web_server(port, *, startup_timeout=5.0, label=None, custom_domains=None, requires_proxy_auth=False):
    def mark(fn):
        fn.__modal_web_server__ = {
            "port": port,
            "startup_timeout": startup_timeout,
            "requires_proxy_auth": requires_proxy_auth,
        }
        return fn

    return mark


class App:
    def __init__(self, name=None, *, tags=None, image=None, secrets=(), volumes=None, include_source=True):
        self.name = name
        self.functions = []
        APPS.append(self)

    def function(self, *, image=None, secrets=(), cpu=None, memory=None, timeout=None, **options):
        if options:
            raise TypeError(f"App.function got arguments this stand-in does not know: {sorted(options)}")

        def register(fn):
            self.functions.append(
                {
                    "name": fn.__name__,
                    "callable": fn,
                    "image": {"registry": image.registry, "add_python": image.add_python, "env": image.env_vars},
                    "secrets": [secret.name for secret in secrets],
                    "cpu": cpu,
                    "memory": memory,
                    "timeout": timeout,
                    "concurrent": getattr(fn, "__modal_concurrent__", None),
                    "web_server": getattr(fn, "__modal_web_server__", None),
                }
            )
            return fn

        return register
