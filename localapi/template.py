"""Read ``template.yaml`` the way the local runtime needs it: functions, their code, layers,
environment, and HttpApi routes. One source of truth; no second list of routes anywhere.

Intrinsics are resolved only as far as a local run needs: ``Ref`` to a parameter (its
default, or an override), ``Fn::Sub`` over parameters and pseudo parameters, ``Fn::Join``,
and ``Fn::If`` on the template's own Conditions, evaluated with those parameter values.
A local run uses ``LOCAL_PARAMETERS``: the existing-cache mode, on a Redis without auth.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

LOCAL_PARAMETERS = {"DeployMode": "existing-cache", "RedisAuth": "none", "RedisTls": "false"}
_PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::StackName": "local",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::Partition": "aws",
}


@dataclass(frozen=True)
class Route:
    method: str  # upper case, or "ANY"
    path: str  # API Gateway form, e.g. /imports/{id}
    function: str  # logical id
    event: str  # the event's logical name
    iam: bool = False  # Auth: Authorizer: AWS_IAM (the caller must sign with SigV4)


@dataclass(frozen=True)
class Function:
    name: str  # logical id
    code_dir: Path
    handler: str  # module.attribute
    layer_dirs: tuple[Path, ...]  # each a directory that Lambda would mount at /opt
    environment: dict[str, str]
    timeout: float
    memory_mb: int


@dataclass(frozen=True)
class Throttle:
    """An HTTP API route's throttle: a token bucket of ``burst`` tokens refilled at ``rate`` a
    second, one per route (API Gateway keeps no bucket per client and none across routes)."""

    rate: float
    burst: int


@dataclass
class Template:
    path: Path
    functions: dict[str, Function] = field(default_factory=dict)
    routes: list[Route] = field(default_factory=list)
    # The HttpApi stage's route settings: "GET /stats" → its Throttle; None: the default's.
    throttles: dict[str, Throttle] = field(default_factory=dict)
    default_throttle: Throttle | None = None
    # The HttpApi's CorsConfiguration as written (AllowOrigins, AllowMethods, …), or None.
    cors: dict[str, Any] | None = None
    # The template's parameter values (defaults and local overrides), as its intrinsics read them.
    params: dict[str, Any] = field(default_factory=dict)


def _condition(name: str, params: Mapping[str, Any]) -> bool:
    conditions = params.get("__conditions__", {})
    return bool(_resolve(conditions[name], params))


def _is_intrinsic(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and len(value) == 1
        and str(next(iter(value))).startswith(("Fn::", "Ref", "Condition"))
    )


def resolve_deep(value: Any, params: Mapping[str, Any]) -> Any:
    """Resolve intrinsics everywhere inside ``value``; ``AWS::NoValue`` drops the item."""
    resolved = _resolve(value, params) if _is_intrinsic(value) else value
    if isinstance(resolved, Mapping):
        out = {k: resolve_deep(v, params) for k, v in resolved.items()}
        return {k: v for k, v in out.items() if v != "AWS::NoValue"}
    if isinstance(resolved, list):
        return [x for x in (resolve_deep(v, params) for v in resolved) if x != "AWS::NoValue"]
    return resolved


def parameters(doc: Mapping[str, Any], overrides: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Parameter values (defaults, then overrides) with the template's conditions."""
    params: dict[str, Any] = {}
    for name, spec in (doc.get("Parameters") or {}).items():
        default = _string(spec.get("Default", ""), {})
        if spec.get("Type") == "CommaDelimitedList":  # a list to Ref
            params[name] = default.split(",") if default else []
        else:
            params[name] = default
    params.update(overrides or {})
    params["__conditions__"] = doc.get("Conditions") or {}
    return params


def _resolve(value: Any, params: Mapping[str, Any]) -> Any:  # noqa: PLR0911 - one branch per intrinsic
    if isinstance(value, Mapping) and _is_intrinsic(value):
        if "Ref" in value:
            ref = value["Ref"]
            # `Function.Alias` (SAM's live alias): a local run has one version of each function.
            ref = ref.removesuffix(".Alias")
            return params.get(ref, _PSEUDO.get(ref, ref))
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            text = text if isinstance(text, str) else text[0]
            # `${Name}` as Ref resolves it (a resource: its logical id, as a function's local
            # name); `${Name.Attribute}` stays as written.
            return re.sub(
                r"\$\{([^}!]+)\}",
                lambda m: str(params.get(m[1], _PSEUDO.get(m[1], m[0] if "." in m[1] else m[1]))),
                text,
            )
        if "Fn::If" in value:
            name, when_true, when_false = value["Fn::If"]
            return _resolve(when_true if _condition(name, params) else when_false, params)
        if "Fn::Equals" in value:
            left, right = (_resolve(v, params) for v in value["Fn::Equals"])
            return str(left) == str(right)
        if "Fn::Not" in value:
            return not _resolve(value["Fn::Not"][0], params)
        if "Fn::And" in value:
            return all(_resolve(v, params) for v in value["Fn::And"])
        if "Fn::Or" in value:
            return any(_resolve(v, params) for v in value["Fn::Or"])
        if "Condition" in value:
            return _condition(value["Condition"], params)
        if "Fn::Join" in value:
            sep, items = value["Fn::Join"]
            resolved = _resolve(items, params)
            return sep.join(str(_resolve(i, params)) for i in (resolved if isinstance(resolved, list) else [resolved]))
        return None  # GetAtt and the like: resources that exist only in AWS
    return value  # a plain value, mapping or list


def _string(value: Any, params: Mapping[str, Any]) -> str:
    resolved = _resolve(value, params)
    if resolved is None:
        return ""
    if isinstance(resolved, bool):
        return "true" if resolved else "false"
    return str(resolved)


def _throttle(settings: Any, params: Mapping[str, Any]) -> Throttle | None:
    if not isinstance(settings, Mapping) or "ThrottlingRateLimit" not in settings:
        return None
    rate = float(_string(settings["ThrottlingRateLimit"], params))
    return Throttle(rate, int(_string(settings.get("ThrottlingBurstLimit", rate), params)))


def load(path: str | Path, overrides: Mapping[str, str] | None = None) -> Template:
    path = Path(path).resolve()
    root = path.parent
    doc = cfn_yaml.load(str(path))
    params = parameters(doc, {**LOCAL_PARAMETERS, **(overrides or {})})
    resources = doc.get("Resources") or {}
    globals_fn = (doc.get("Globals") or {}).get("Function") or {}

    def layer_dir(ref: Any) -> Path:
        name = ref["Ref"] if isinstance(ref, Mapping) else ref
        source = root / str(resources[name]["Properties"]["ContentUri"])
        # A layer built from requirements.txt becomes the venv's site-packages locally; a
        # layer whose source is already laid out as python/ runs from that source.
        return Path("") if (source / "requirements.txt").is_file() else source / "python"

    template = Template(path=path, params=params)
    for resource in resources.values():
        if resource.get("Type") == "AWS::Serverless::HttpApi":
            props = resource.get("Properties") or {}
            template.default_throttle = _throttle(props.get("DefaultRouteSettings"), params)
            cors = props.get("CorsConfiguration")
            template.cors = resolve_deep(cors, params) if isinstance(cors, Mapping) else None
            for route_key, settings in (props.get("RouteSettings") or {}).items():
                found = _throttle(settings, params)
                if found is not None:
                    template.throttles[str(route_key)] = found
    for name, resource in resources.items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        props = {**globals_fn, **resource.get("Properties", {})}
        env: dict[str, str] = {}
        for source in (globals_fn, resource.get("Properties", {})):
            for key, val in ((source.get("Environment") or {}).get("Variables") or {}).items():
                env[key] = _string(val, params)
        layers = tuple(p for p in (layer_dir(ref) for ref in props.get("Layers", [])) if p != Path(""))
        template.functions[name] = Function(
            name=name,
            code_dir=root / str(props["CodeUri"]),
            handler=str(props["Handler"]),
            layer_dirs=layers,
            environment=env,
            timeout=float(_string(props.get("Timeout", 3), params)),
            memory_mb=int(_string(props.get("MemorySize", 128), params)),
        )
        for event_name, event in (resource.get("Properties", {}).get("Events") or {}).items():
            if event.get("Type") != "HttpApi":
                continue
            ev = event.get("Properties") or {}
            iam = str((ev.get("Auth") or {}).get("Authorizer", "")) == "AWS_IAM"
            template.routes.append(
                Route(str(ev.get("Method", "ANY")).upper(), str(ev.get("Path", "/")), name, event_name, iam)
            )
    return template
