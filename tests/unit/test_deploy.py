"""deploy/ stays true to the code: settings, CLI commands, probes, image and runbook."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from service.cli import parser
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
ENV_EXAMPLE = DEPLOY / "recoop.env.example"
RUNBOOK = DEPLOY / "RUNBOOK.md"

RECOOP_VAR = re.compile(r"\bRECOOP_[A-Z0-9_]*[A-Z0-9]\b")


def _load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def _k8s_docs() -> list[dict[str, Any]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        docs.extend(_load_all(path))
    return docs


def _k8s(kind: str, name: str) -> dict[str, Any]:
    found = [
        d for d in _k8s_docs() if d["kind"] == kind and d["metadata"]["name"] == name
    ]
    assert len(found) == 1, f"expected one {kind}/{name} in deploy/k8s"
    return found[0]


def _container(deployment: dict[str, Any]) -> dict[str, Any]:
    containers = deployment["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    return dict(containers[0])


def _parses(argv: list[str]) -> None:
    """The real `recoop` parser accepts argv (argparse exits on an error)."""
    try:
        parser().parse_args(argv)
    except SystemExit as exc:  # pragma: no cover - the message is the failure
        pytest.fail(f"`recoop {shlex.join(argv)}` does not parse (exit {exc.code})")


def _text_files() -> list[Path]:
    files = [ROOT / ".dockerignore"]
    for path in sorted(DEPLOY.rglob("*")):
        if not path.is_file():
            continue
        try:
            path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue  # e.g. the KoboToolbox .xlsx form
        files.append(path)
    return files


def _env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of an env file, as compose reads them (comments skipped)."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, sep, value = line.partition("=")
            assert sep, f"{path.name}: not KEY=value: {line!r}"
            values[key.strip()] = value
    return values


def _settings_from(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> Settings:
    """Settings exactly as a process would build them from this environment."""
    for key in list(os.environ):
        if key.startswith("RECOOP_"):
            monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return Settings(_env_file=None)  # type: ignore[call-arg]


# ----------------------------------------------------------------- (a) settings


def test_every_recoop_variable_in_deploy_is_a_setting() -> None:
    """No RECOOP_* name in deploy/ (compose, env example, k8s, Dockerfile, runbook) is misspelt."""
    fields = set(Settings.model_fields)
    seen: dict[str, set[str]] = {}
    for path in _text_files():
        for name in RECOOP_VAR.findall(path.read_text(encoding="utf-8")):
            seen.setdefault(name, set()).add(str(path.relative_to(ROOT)))
    assert seen, "no RECOOP_* variable found under deploy/"
    unknown = {
        name: sorted(where)
        for name, where in seen.items()
        if name.removeprefix("RECOOP_").lower() not in fields
    }
    assert not unknown, f"not fields of service.settings.Settings: {unknown}"


def test_env_example_sets_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """The env example plus compose's own environment builds a valid Settings."""
    env = _env_file(ENV_EXAMPLE)
    compose = yaml.safe_load(COMPOSE.read_text())
    for key, value in compose["x-recoop"]["environment"].items():
        # ${POSTGRES_PASSWORD:?...} is compose interpolation, not part of the value.
        env[key] = re.sub(r"\$\{[^}]*\}", "pw", str(value))
    settings = _settings_from(monkeypatch, env)
    assert settings.database_url.startswith("postgresql+asyncpg://")
    assert settings.public_base_url.startswith("https://")
    assert settings.trusted_proxies, "compose must trust its proxy's address"


def test_env_example_documents_every_variable() -> None:
    """Each RECOOP_* line of the example sits under an explanatory comment."""
    lines = ENV_EXAMPLE.read_text().splitlines()
    for i, line in enumerate(lines):
        if not RECOOP_VAR.match(line.removeprefix("# ")):
            continue
        # Walk up through this paragraph (no blank line) looking for prose.
        j, explained = i - 1, False
        while j >= 0 and lines[j].strip():
            above = lines[j]
            if above.startswith("#") and not RECOOP_VAR.match(above.removeprefix("# ")):
                explained = True
                break
            j -= 1
        assert explained, f"undocumented: {line}"


def test_k8s_config_and_secret_build_valid_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """ConfigMap data + Secret stringData are valid settings, secrets only in the Secret."""
    config = _k8s("ConfigMap", "recoop-config")["data"]
    secret = _k8s("Secret", "recoop-secrets")["stringData"]
    assert all(isinstance(v, str) for v in config.values()), (
        "ConfigMap values are strings"
    )
    assert not set(config) & set(secret)
    secret_fields = {
        name
        for name, field in Settings.model_fields.items()
        if "SecretStr" in str(field.annotation)
    } | {"database_url"}
    in_config = {k.removeprefix("RECOOP_").lower() for k in config}
    assert not in_config & secret_fields, "a secret is in the ConfigMap"
    for key in (
        "RECOOP_TWILIO_AUTH_TOKEN",
        "RECOOP_AFRICASTALKING_API_KEY",
        "RECOOP_DATABASE_URL",
        "RECOOP_PAYOUT_CALLBACK_TOKEN",
        "RECOOP_SANDBOX_SECRET",
    ):
        assert key in secret
    assert all("change-me" in v for v in secret.values()), "placeholders only"
    settings = _settings_from(monkeypatch, {**config, **secret})
    assert settings.database_url.startswith("postgresql+asyncpg://")


# ----------------------------------------------------------------- (b) kubernetes


def test_every_k8s_manifest_parses_and_is_listed() -> None:
    """Each manifest is YAML with apiVersion/kind/name; kustomization lists them (not the example Secret)."""
    for doc in _k8s_docs():
        if doc["kind"] == "Kustomization":
            continue
        assert doc["apiVersion"] and doc["metadata"]["name"]
        if doc["kind"] != "Namespace":
            assert doc["metadata"]["namespace"] == "recoop"
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    listed = set(kustomization["resources"])
    files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == files - {"secret.yaml"}
    kinds = {d["kind"] for d in _k8s_docs()}
    assert {"Namespace", "ConfigMap", "Secret", "Job", "Deployment", "Service"} <= kinds
    assert "Ingress" in kinds


def test_web_deployment_probes_and_role() -> None:
    """Two web replicas: ready on /readyz, alive on /healthz, `serve --role web`."""
    web = _k8s("Deployment", "recoop-web")
    assert web["spec"]["replicas"] == 2
    container = _container(web)
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    args = container["args"]
    assert args[0] == "serve" and "--role web" in " ".join(args)
    _parses(args)
    assert parser().parse_args(args).role == "web"


def test_worker_deployment_probes_and_role() -> None:
    """One worker, `serve --role worker`, probed on its own --port."""
    worker = _k8s("Deployment", "recoop-worker")
    assert worker["spec"]["replicas"] == 1
    # Standbys take the scheduler over, so a rolling update never leaves it unrun.
    assert worker["spec"]["strategy"]["type"] == "RollingUpdate"
    container = _container(worker)
    args = container["args"]
    _parses(args)
    parsed = parser().parse_args(args)
    assert (parsed.command, parsed.role) == ("serve", "worker")
    port = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert port["http"] == parsed.port
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"


def test_pods_are_locked_down_and_get_their_settings() -> None:
    """Non-root, read-only root, no privilege escalation; envFrom ConfigMap + Secret."""
    job = _k8s("Job", "recoop-migrate")
    _parses(_container(job)["args"])
    assert _container(job)["args"] == ["db", "upgrade"]
    for workload in (
        job,
        _k8s("Deployment", "recoop-web"),
        _k8s("Deployment", "recoop-worker"),
    ):
        pod = workload["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["securityContext"]["runAsUser"] == 10001
        container = _container(workload)
        ctx = container["securityContext"]
        assert ctx["readOnlyRootFilesystem"] is True
        assert ctx["allowPrivilegeEscalation"] is False
        assert "resources" in container
        refs = [next(iter(ref.values()))["name"] for ref in container["envFrom"]]
        assert refs == ["recoop-config", "recoop-secrets"]


@pytest.mark.skipif(
    shutil.which("kubectl") is None, reason="kubectl not installed: kustomize not run"
)
def test_kustomize_builds_with_one_image() -> None:
    """`kubectl kustomize deploy/k8s` renders; every pod runs the image set there."""
    out = subprocess.run(
        ["kubectl", "kustomize", str(K8S)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    images = {
        c["image"]
        for d in docs
        if d["kind"] in {"Deployment", "Job"}
        for c in d["spec"]["template"]["spec"]["containers"]
    }
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
    (image,) = kustomization["images"]
    assert images == {f"{image['newName']}:{image['newTag']}"}
    assert "Secret" not in {d["kind"] for d in docs}


def test_service_and_ingress_reach_the_web_pods() -> None:
    """ClusterIP Service selects the web pods; the Ingress terminates TLS for its host."""
    service = _k8s("Service", "recoop-web")
    web = _k8s("Deployment", "recoop-web")
    assert service["spec"]["type"] == "ClusterIP"
    labels = web["spec"]["template"]["metadata"]["labels"]
    assert service["spec"]["selector"].items() <= labels.items()
    ingress = _k8s("Ingress", "recoop")
    hosts = {h for tls in ingress["spec"]["tls"] for h in tls["hosts"]}
    rule_hosts = {r["host"] for r in ingress["spec"]["rules"]}
    assert rule_hosts <= hosts
    public = _k8s("ConfigMap", "recoop-config")["data"]["RECOOP_PUBLIC_BASE_URL"]
    assert public in {f"https://{h}" for h in hosts}


# ----------------------------------------------------------------- (c) compose


def test_compose_services_and_commands() -> None:
    """postgres, a migrate job, two web replicas, one worker and a proxy; real CLI commands."""
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    roles: dict[str, list[str]] = {}
    for name, service in services.items():
        command = service.get("command")
        if command is None:
            continue
        assert isinstance(command, list), f"{name}: use the exec form"
        _parses(command)
        parsed = parser().parse_args(command)
        if parsed.command == "serve":
            roles.setdefault(parsed.role, []).append(name)
            assert parsed.host == "0.0.0.0"
    assert len(roles.get("web", [])) == 2
    assert len(roles.get("worker", [])) == 1
    assert "all" not in roles
    assert services["postgres"]["image"].startswith("postgres:16")
    assert "pg_isready" in " ".join(services["postgres"]["healthcheck"]["test"])
    assert services["proxy"]["image"].startswith("caddy:2")
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == (
        "service_healthy"
    )
    for name in roles["web"] + roles["worker"]:
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        env = services[name]["environment"]
        assert env["RECOOP_DATABASE_URL"].startswith("postgresql+asyncpg://")
        env_files = [e["path"] for e in services[name]["env_file"]]
        assert "./recoop.env.example" in env_files


def test_compose_proxy_address_is_the_trusted_one() -> None:
    """The app trusts forwarded headers from exactly the proxy's fixed address."""
    compose = yaml.safe_load(COMPOSE.read_text())
    proxy_ip = compose["services"]["proxy"]["networks"]["backend"]["ipv4_address"]
    trusted = json.loads(compose["x-recoop"]["environment"]["RECOOP_TRUSTED_PROXIES"])
    assert trusted == [f"{proxy_ip}/32"]


def test_caddyfile_terminates_tls_and_balances_both_replicas() -> None:
    """tls internal, both web replicas behind /readyz health checks, /metrics kept inside."""
    caddyfile = (DEPLOY / "Caddyfile").read_text()
    code = "\n".join(
        line.split("#", 1)[0] for line in caddyfile.splitlines()
    )  # comments out
    assert "tls internal" in code
    assert re.search(r"reverse_proxy\s+web1:8080\s+web2:8080", code)
    assert "health_uri /readyz" in code
    assert "respond /metrics 404" in code
    # Caddy sets X-Forwarded-Proto/Host itself and overwrites a client's own unless
    # the client is one of Caddy's trusted_proxies: none may be configured.
    assert "trusted_proxies" not in code


# ----------------------------------------------------------------- (d) Dockerfile


def _dockerfile_stages() -> list[list[str]]:
    """Instructions per stage (continuation lines joined, comments dropped)."""
    logical, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        line = raw.strip()
        if not current and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            current += line[:-1] + " "
            continue
        logical.append(current + line)
        current = ""
    stages: list[list[str]] = []
    for instruction in logical:
        if instruction.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(instruction)
    return stages


def _instruction(stage: list[str], keyword: str) -> list[str]:
    return [
        line.split(None, 1)[1]
        for line in stage
        if line.split(None, 1)[0].upper() == keyword
    ]


def test_dockerfile_final_stage_is_slim_and_non_root() -> None:
    """Multi-stage on python:3.11-slim; the last stage runs `recoop` as uid 10001."""
    stages = _dockerfile_stages()
    assert len(stages) >= 2, "builder + runtime"
    text = DOCKERFILE.read_text()
    assert "python:3.11-slim" in text
    final = stages[-1]
    users = _instruction(final, "USER")
    assert users, "the final stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}
    assert user in {"10001", "recoop"}
    assert "--uid 10001" in " ".join(final)
    assert json.loads(_instruction(final, "ENTRYPOINT")[-1]) == ["recoop"]
    cmd = json.loads(_instruction(final, "CMD")[-1])
    _parses(cmd)
    assert parser().parse_args(cmd).port == 8080
    assert _instruction(final, "EXPOSE") == ["8080"]
    healthcheck = " ".join(_instruction(final, "HEALTHCHECK"))
    assert "urllib" in healthcheck and "/healthz" in healthcheck
    assert any("--from=builder" in c for c in _instruction(final, "COPY"))
    final_text = "\n".join(final)
    for compiler in ("build-essential", "gcc", "apt-get install"):
        assert compiler not in final_text


def test_dockerignore_keeps_the_context_small() -> None:
    """The build context (repository root) leaves out venvs, caches, databases, vendor files."""
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    for pattern in (
        ".venv",
        ".git",
        ".pytest_cache",
        "*.db",
        "demo-out",
        "node_modules",
        "service/static/vendor",
    ):
        assert pattern in ignored
    assert "README.md" not in ignored  # pyproject's readme: the wheel build needs it


def _works(*argv: str, timeout: float = 20) -> bool:
    """True when the command exists and exits 0 within ``timeout`` seconds."""
    if shutil.which(argv[0]) is None:
        return False
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def _image_at_hand(ref: str) -> bool:
    """True when the engine has the image or can pull it (needs its registry)."""
    return _works("docker", "image", "inspect", ref) or _works(
        "docker", "pull", "--quiet", ref, timeout=300
    )


@pytest.mark.skipif(
    not _works("docker", "info"),
    reason="no Docker engine: `docker info` fails, image build not tried",
)
@pytest.mark.slow
def test_docker_image_builds_and_runs_in_its_roles() -> None:
    """The image builds from the repository root, runs as uid 10001, and (given a
    PostgreSQL) serves as migration job, web replicas and worker.

    The base images are the Dockerfile's defaults, pulled from Docker Hub, or the
    ones named by RECOOP_TEST_PYTHON_IMAGE and RECOOP_TEST_NODE_IMAGE (a machine
    without Docker Hub can build stand-ins; deploy/RUNBOOK.md says how).
    """
    bases = {
        "PYTHON_IMAGE": os.environ.get("RECOOP_TEST_PYTHON_IMAGE", "python:3.11-slim"),
        "NODE_IMAGE": os.environ.get("RECOOP_TEST_NODE_IMAGE", "node:20-slim"),
    }
    for ref in bases.values():
        if not _image_at_hand(ref):
            pytest.skip(f"base image {ref} is neither on this engine nor pullable")
    tag = "recoop:test-deploy"
    build_args = [f"--build-arg={k}={v}" for k, v in bases.items()]
    subprocess.run(
        ["docker", "build", "-f", "deploy/Dockerfile", *build_args, "-t", tag, "."],
        cwd=ROOT,
        check=True,
    )
    out = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", tag, "-u"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "10001"
    subprocess.run(["docker", "run", "--rm", tag, "serve", "--help"], check=True)
    url = os.environ.get("RECOOP_TEST_POSTGRES_URL")
    if url and shutil.which("psql"):
        admin = re.sub(r"^postgresql\+\w+://", "postgresql://", url)
        admin = admin.rsplit("/", 1)[0] + "/postgres"
        subprocess.run(
            ["bash", "deploy/smoke-image.sh", tag, admin],
            cwd=ROOT,
            check=True,
            timeout=300,
        )


# ----------------------------------------------------------------- (e, f) runbook

RUNBOOK_TOPICS = (
    "first deployment",
    "migrations",
    "backups and restore",
    "rotating the twilio auth token",
    "replaying stuck outbox rows",
    "provider outage",
    "reconciling at month end",
    "scheduler and leader",
)


def test_runbook_has_every_topic() -> None:
    """Each operator topic is a heading of deploy/RUNBOOK.md."""
    headings = [
        line.lstrip("#").strip().lower()
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("#")
    ]
    for topic in RUNBOOK_TOPICS:
        assert any(topic in h for h in headings), f"no heading about {topic!r}"


def _code_lines() -> list[str]:
    """Lines of the runbook's fenced code blocks, backslash continuations joined."""
    lines, inside, pending = [], False, ""
    for line in RUNBOOK.read_text().splitlines():
        if line.startswith("```"):
            inside = not inside
            continue
        if not inside:
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        lines.append(pending + line)
        pending = ""
    return lines


# A `recoop` word starts a CLI call at the start of a command, after `kubectl exec ... --`
# or after the compose service given to `exec`/`run`.
_CALL_AFTER = {"--", "web1", "web2", "worker", "migrate"}
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


def _recoop_calls() -> list[list[str]]:
    calls = []
    for line in _code_lines():
        try:
            words = shlex.split(line, comments=True)
        except ValueError:
            continue  # SQL with an apostrophe, not a shell line
        segment_start = 0
        for i, word in enumerate(words):
            if word in {"|", "&&", ";", "||"}:
                segment_start = i + 1
            elif i == segment_start and _ASSIGNMENT.match(word):
                segment_start = i + 1  # NAME=value before the command
            if word != "recoop":
                continue
            if i == segment_start or words[i - 1] in _CALL_AFTER:
                argv = []
                for arg in words[i + 1 :]:
                    if arg in {"|", "&&", ";", "||", "<", ">", "2>", "&"}:
                        break
                    argv.append(arg)
                calls.append(argv)
    return calls


def test_runbook_recoop_commands_parse() -> None:
    """Every `recoop ...` command in the runbook's code blocks parses with the real CLI."""
    calls = _recoop_calls()
    commands = {argv[0] for argv in calls if argv}
    # The runbook shows at least these, so this test really checks something.
    assert {"db", "token", "reconcile", "plan"} <= commands
    for argv in calls:
        assert not any("<" in a and ">" in a for a in argv), f"placeholder in {argv}"
        _parses(argv)


def test_runbook_outbox_sql_names_real_columns() -> None:
    """The outbox SQL uses only the table's real columns and statuses."""
    from service.persistence.tables import outbox

    text = RUNBOOK.read_text()
    section = text.split("## Replaying stuck outbox rows", 1)[1].split("\n## ", 1)[0]
    columns = set(outbox.c.keys())
    for needed in (
        "status",
        "attempts",
        "lease_until",
        "next_attempt_at",
        "expires_at",
    ):
        assert needed in columns and needed in section
    for status in ("pending", "sending", "sent", "failed", "expired", "suppressed"):
        assert f"`{status}`" in section
    # Every `name =` assignment in the UPDATEs is a column of the table.
    for match in re.finditer(r"SET (.+?)\nWHERE|SET (.+?) WHERE", section, re.S):
        assignments = match.group(1) or match.group(2)
        for name in re.findall(r"(\w+)\s*=", assignments):
            assert name in columns, f"outbox has no column {name}"
