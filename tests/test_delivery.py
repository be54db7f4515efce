"""Argo CD and Flux objects: required fields, what they address, and bad settings.

The required-field tables are written from the projects' API definitions:
- Argo CD, pkg/apis/application/v1alpha1/types.go and applicationset_types.go:
  ApplicationSpec needs `destination` and `project`, ApplicationSource needs `repoURL`,
  a destination needs `server` or `name` (not both; argoutil.ValidateDestination);
  ApplicationSetSpec needs `generators` and `template`, the template `metadata` and `spec`.
- Flux, kustomize-controller api/v1/kustomization_types.go: KustomizationSpec needs
  `interval` (pattern ^([0-9]+(\\.[0-9]+)?(ms|s|m|h))+$), `prune` and `sourceRef`; a
  sourceRef needs `kind` (GitRepository, OCIRepository or Bucket) and `name`.
- Flux, source-controller api/v1/gitrepository_types.go: GitRepositorySpec needs `url`
  (pattern ^(http|https|ssh)://.*$) and `interval`.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from helpers import ENVIRONMENTS, run, write_catalog
from test_bad_catalogs import error_lines, expected_lines, validate

from extgen.catalog import read_catalog
from extgen.plan import plan_catalog
from extgen.yamlio import parse_all_core

ROOT = Path(__file__).resolve().parent.parent
DURATION = re.compile(r"([0-9]+(\.[0-9]+)?(ms|s|m|h))+")
URL = re.compile(r"(http|https|ssh)://.*")
GO_PARAMETER = re.compile(r"\{\{\.([A-Za-z]+)\}\}")

# (apiVersion, kind) -> dotted paths that must be present and not empty.
REQUIRED: dict[tuple[str, str], list[str]] = {
    ("argoproj.io/v1alpha1", "Application"): [
        "metadata.name",
        "metadata.namespace",
        "spec.project",
        "spec.source.repoURL",
        "spec.destination",
        "spec.syncPolicy.automated",
    ],
    ("argoproj.io/v1alpha1", "ApplicationSet"): [
        "metadata.name",
        "metadata.namespace",
        "spec.generators",
        "spec.template.metadata.name",
        "spec.template.spec.project",
        "spec.template.spec.source.repoURL",
        "spec.template.spec.destination",
    ],
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): [
        "metadata.name",
        "metadata.namespace",
        "spec.interval",
        "spec.sourceRef.kind",
        "spec.sourceRef.name",
    ],
    ("source.toolkit.fluxcd.io/v1", "GitRepository"): [
        "metadata.name",
        "metadata.namespace",
        "spec.interval",
        "spec.url",
    ],
}
# Fields that must be stated even though the CRD lets them default, with their values.
STATED: dict[tuple[str, str], dict[str, Any]] = {
    # Argo CD defaults to no pruning: extgen says so explicitly.
    ("argoproj.io/v1alpha1", "Application"): {"spec.syncPolicy.automated.prune": True},
    ("argoproj.io/v1alpha1", "ApplicationSet"): {
        "spec.template.spec.syncPolicy.automated.prune": True
    },
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): {
        "spec.prune": True,
        "spec.wait": True,
    },
}


def field(body: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(body, dict) or part not in body:
            return None
        body = body[part]
    return body


def structural_problems(body: dict[str, Any]) -> list[str]:
    kind = (body.get("apiVersion"), body.get("kind"))
    if kind not in REQUIRED:
        return [f"unexpected object {kind}"]
    problems = [f"{kind[1]}: {path} missing" for path in REQUIRED[kind] if not field(body, path)]
    for path, value in STATED.get(kind, {}).items():  # type: ignore[call-overload]
        if field(body, path) is not value:
            problems.append(f"{kind[1]}: {path} is {field(body, path)!r}, expected {value!r}")
    if kind[1] == "Kustomization":
        spec = body["spec"]
        if spec["sourceRef"]["kind"] not in ("GitRepository", "OCIRepository", "Bucket"):
            problems.append("Kustomization: sourceRef.kind")
        for name in ("interval", "timeout"):
            if not DURATION.fullmatch(str(spec.get(name, ""))):
                problems.append(f"Kustomization: spec.{name} {spec.get(name)!r}")
        if not str(spec.get("path", "")).startswith("./"):
            problems.append(f"Kustomization: spec.path {spec.get('path')!r}")
    if kind[1] == "GitRepository":
        if not URL.fullmatch(body["spec"]["url"]) or not DURATION.fullmatch(
            body["spec"]["interval"]
        ):
            problems.append("GitRepository: url or interval")
        if len(body["spec"].get("ref", {})) != 1:
            problems.append("GitRepository: spec.ref needs exactly one reference")
    if kind[1] == "Application":
        destination = body["spec"]["destination"]
        if ("server" in destination) == ("name" in destination):
            problems.append(f"Application: destination needs server or name: {destination}")
    return problems


def expand(template: Any, element: dict[str, str]) -> Any:
    """An ApplicationSet template with one list element filled in, as Argo CD's Go
    templates do (missingkey=error: an unknown parameter raises KeyError)."""
    if isinstance(template, dict):
        return {key: expand(value, element) for key, value in template.items()}
    if isinstance(template, list):
        return [expand(value, element) for value in template]
    if isinstance(template, str):
        return GO_PARAMETER.sub(lambda match: element[match.group(1)], template)
    return template


def without_empty(body: Any) -> Any:
    """Go's JSON omits empty strings with omitempty: the destination's unused field."""
    if isinstance(body, dict):
        return {key: without_empty(value) for key, value in body.items() if value != ""}
    return body


def delivered(out: Path) -> dict[str, list[dict[str, Any]]]:
    """Every file below OUT/_gitops other than kustomization.yaml, parsed."""
    files = {}
    for path in sorted((out / "_gitops").rglob("*.yaml")):
        if path.name != "kustomization.yaml":
            relative = path.relative_to(out).as_posix()
            files[relative] = [d for d in parse_all_core(path.read_text(), str(path)) if d]
    return files


def applications(out: Path) -> list[dict[str, Any]]:
    """The Applications that Argo CD ends up with, from an ApplicationSet or as written."""
    apps = []
    for documents in delivered(out).values():
        for body in documents:
            if body["kind"] == "ApplicationSet":
                template = body["spec"]["template"]
                for element in body["spec"]["generators"][0]["list"]["elements"]:
                    app = without_empty(expand(template, element))
                    # Argo CD creates them in the ApplicationSet's namespace.
                    app["metadata"]["namespace"] = body["metadata"]["namespace"]
                    apps.append({"apiVersion": body["apiVersion"], "kind": "Application", **app})
            elif body["kind"] == "Application":
                apps.append(body)
    return apps


def render(catalog: Path, out: Path) -> None:
    result = run("render", "-c", str(catalog), "-o", str(out))
    assert result.exit_code == 0, result.output


def test_example_catalog_delivery_objects_have_every_required_field(tmp_path: Path) -> None:
    out = tmp_path / "overlays"
    render(ROOT / "catalog", out)
    files = delivered(out)
    assert sorted(files) == [
        "_gitops/argocd/applicationset.yaml",
        "_gitops/flux/dev/sync.yaml",
        "_gitops/flux/dr/sync.yaml",
        "_gitops/flux/prod/sync.yaml",
        "_gitops/flux/staging/sync.yaml",
    ]
    for documents in files.values():
        for body in documents:
            assert structural_problems(body) == []
    apps = applications(out)
    for app in apps:
        assert structural_problems(app) == []
    destinations = {app["metadata"]["name"]: app["spec"]["destination"] for app in apps}
    assert destinations == {
        "extgen-dev": {"name": "nonprod-eu-west-1", "namespace": "shop-dev"},
        "extgen-staging": {"name": "nonprod-eu-west-1", "namespace": "shop-staging"},
        "extgen-prod": {
            "server": "https://prod-eu-west-1.k8s.example.com",
            "namespace": "shop-prod",
        },
        "extgen-dr": {"server": "https://dr-eu-central-1.k8s.example.com", "namespace": "shop-dr"},
    }
    for app in apps:
        source = app["spec"]["source"]
        assert source["repoURL"] == "https://github.com/example/shop-gitops.git"
        assert source["targetRevision"] == "main"
        # The path is OUT's path in the repository plus the environment's directory.
        env = app["metadata"]["name"].removeprefix("extgen-")
        assert source["path"] == f"overlays/{env}"
        assert (out / env / "kustomization.yaml").is_file()


def test_example_flux_kustomizations_point_at_each_environment(tmp_path: Path) -> None:
    out = tmp_path / "overlays"
    render(ROOT / "catalog", out)
    for env in ("dev", "dr", "prod", "staging"):
        repository, kustomization = delivered(out)[f"_gitops/flux/{env}/sync.yaml"]
        assert repository["kind"] == "GitRepository"
        assert repository["spec"]["ref"] == {"branch": "main"}
        assert kustomization["kind"] == "Kustomization"
        assert kustomization["metadata"] == {
            "name": f"extgen-{env}",
            "namespace": "flux-system",
            "labels": {"app.kubernetes.io/managed-by": "extgen"},
        }
        assert kustomization["spec"] == {
            "interval": "10m",
            "path": f"./overlays/{env}",
            "prune": True,
            "wait": True,
            "timeout": "5m",
            "sourceRef": {"kind": "GitRepository", "name": repository["metadata"]["name"]},
        }


def test_each_delivery_directory_builds_with_kustomize(tmp_path: Path) -> None:
    out = tmp_path / "overlays"
    render(ROOT / "catalog", out)
    # verify builds OUT/_gitops/argocd and each OUT/_gitops/flux/<env> and compares them
    # with the plan; a broken kustomization there would be a finding.
    result = run("verify", "-c", str(ROOT / "catalog"), "-o", str(out))
    assert result.exit_code == 0, result.output
    (out / "_gitops" / "flux" / "prod" / "sync.yaml").write_text(
        (out / "_gitops" / "flux" / "prod" / "sync.yaml").read_text().replace("10m", "1m")
    )
    result = run("verify", "-c", str(ROOT / "catalog"), "-o", str(out))
    assert result.exit_code == 1
    assert (
        "error: _gitops/flux/prod: Kustomization/flux-system/extgen-prod: spec.interval:"
        " expected '10m', got '1m'" in result.output
    )


def gitops_catalog(root: Path, gitops: str, environments: str = ENVIRONMENTS) -> Path:
    dependencies = "dependencies:\n" + "".join(
        f"  - name: dep-{index}\n    targets: {{dev: d{index}.example.com,"
        f" prod: p{index}.example.com}}\n"
        for index in range(40)
    )
    files = {"environments.yaml": environments, "dependencies.yaml": dependencies}
    files["gitops.yaml"] = textwrap.dedent(gitops)
    return write_catalog(root, files)


SHARDED_ENVIRONMENTS = """\
environments:
  dev: {namespace: apps-dev, shardSize: 10}
  prod:
    namespace: apps-prod
    cluster: {name: prod}
"""


def test_a_sharded_environment_gets_one_application_and_kustomization_per_shard(
    tmp_path: Path,
) -> None:
    gitops = """\
        gitops:
          repository: ssh://git@git.example.com/platform/gitops.git
          revision: refs/tags/v1.2.0
          path: ./deploy/external/
          argocd: {applications: Application, namePrefix: ext-}
          flux: {gitRepository: flux-system}
        """
    catalog = gitops_catalog(tmp_path, gitops, SHARDED_ENVIRONMENTS)
    out = tmp_path / "out"
    render(catalog, out)
    plan = plan_catalog(read_catalog(catalog))
    dev = next(env for env in plan.environments if env.name == "dev")
    assert dev.shards == 8
    files = delivered(out)
    assert sorted(files) == [
        "_gitops/argocd/dev.yaml",
        "_gitops/argocd/prod.yaml",
        "_gitops/flux/dev/sync.yaml",
        "_gitops/flux/prod/sync.yaml",
    ]
    dev_apps = files["_gitops/argocd/dev.yaml"]
    assert [app["metadata"]["name"] for app in dev_apps] == [
        f"ext-dev-shard-{index:03d}" for index in range(8)
    ]
    assert [app["spec"]["source"]["path"] for app in dev_apps] == [
        f"deploy/external/dev/shard-{index:03d}" for index in range(8)
    ]
    for app in dev_apps:
        assert structural_problems(app) == []
        assert app["spec"]["destination"] == {
            "server": "https://kubernetes.default.svc",
            "namespace": "apps-dev",
        }
        assert app["spec"]["source"]["targetRevision"] == "refs/tags/v1.2.0"
        shard = app["spec"]["source"]["path"].removeprefix("deploy/external/")
        assert (out / shard / "kustomization.yaml").is_file()
    (prod_app,) = files["_gitops/argocd/prod.yaml"]
    assert prod_app["spec"]["destination"] == {"name": "prod", "namespace": "apps-prod"}
    # An existing GitRepository is used, not written.
    dev_flux = files["_gitops/flux/dev/sync.yaml"]
    assert [body["kind"] for body in dev_flux] == ["Kustomization"] * 8
    assert {body["spec"]["sourceRef"]["name"] for body in dev_flux} == {"flux-system"}
    assert [body["spec"]["path"] for body in dev_flux] == [
        f"./deploy/external/dev/shard-{index:03d}" for index in range(8)
    ]
    result = run("verify", "-c", str(catalog), "-o", str(out))
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("revision", "ref"),
    [
        ("main", {"branch": "main"}),
        ("release/2026-11", {"branch": "release/2026-11"}),
        ("refs/tags/v1.0.0", {"name": "refs/tags/v1.0.0"}),
        (
            "0123456789abcdef0123456789abcdef01234567",
            {"commit": "0123456789abcdef0123456789abcdef01234567"},
        ),
    ],
)
def test_git_repository_ref_follows_the_revision(
    tmp_path: Path, revision: str, ref: dict[str, str]
) -> None:
    gitops = f"""\
        gitops:
          repository: https://git.example.com/gitops.git
          revision: "{revision}"
          flux: {{}}
        """
    out = tmp_path / "out"
    render(gitops_catalog(tmp_path, gitops), out)
    repository = delivered(out)["_gitops/flux/dev/sync.yaml"][0]
    assert repository["spec"]["ref"] == ref


def test_kube_config_secret_sends_a_flux_kustomization_to_another_cluster(
    tmp_path: Path,
) -> None:
    environments = ENVIRONMENTS.replace(
        "dev: {namespace: apps-dev}",
        "dev: {namespace: apps-dev, cluster: {kubeConfigSecret: dev-kubeconfig}}",
    )
    gitops = "gitops: {repository: 'https://git.example.com/g.git', flux: {}}\n"
    out = tmp_path / "out"
    render(gitops_catalog(tmp_path, gitops, environments), out)
    dev = delivered(out)["_gitops/flux/dev/sync.yaml"][1]
    assert dev["spec"]["kubeConfig"] == {"secretRef": {"name": "dev-kubeconfig"}}
    prod = delivered(out)["_gitops/flux/prod/sync.yaml"][1]
    assert "kubeConfig" not in prod["spec"]


def test_removing_the_gitops_block_removes_what_it_wrote(tmp_path: Path) -> None:
    gitops = "gitops: {repository: 'https://git.example.com/g.git', argocd: {}, flux: {}}\n"
    catalog = gitops_catalog(tmp_path, gitops)
    out = tmp_path / "out"
    render(catalog, out)
    assert (out / "_gitops" / "argocd" / "kustomization.yaml").is_file()
    (catalog / "gitops.yaml").unlink()
    result = run("render", "-c", str(catalog), "-o", str(out))
    assert result.exit_code == 0
    assert "deleted" in result.output
    assert not (out / "_gitops").exists()
    assert "move to another shard" not in result.output


def test_adding_an_environment_adds_an_application_and_a_flux_directory(tmp_path: Path) -> None:
    gitops = "gitops: {repository: 'https://git.example.com/g.git', argocd: {}, flux: {}}\n"
    catalog = gitops_catalog(tmp_path, gitops)
    out = tmp_path / "out"
    render(catalog, out)
    environments = ENVIRONMENTS + "  eu:\n    namespace: apps-eu\n    cluster: {name: eu-1}\n"
    (catalog / "environments.yaml").write_text(environments)
    deps = (catalog / "dependencies.yaml").read_text().replace("dev: d0.", "eu: e0.x.com, dev: d0.")
    (catalog / "dependencies.yaml").write_text(deps)
    render(catalog, out)
    names = [app["metadata"]["name"] for app in applications(out)]
    assert names == ["extgen-dev", "extgen-eu", "extgen-prod"]
    assert (out / "_gitops" / "flux" / "eu" / "sync.yaml").is_file()


# --- bad settings: (id, gitops.yaml text, expected (line, column, message)) ------------------

BAD_GITOPS: list[tuple[str, str, list[tuple[int, int, str]]]] = [
    (
        "neither-tool",
        "gitops: {repository: 'https://git.example.com/g.git'}\n",
        [(1, 9, "gitops needs 'argocd' and/or 'flux': the objects to write for delivery")],
    ),
    (
        "missing-repository",
        "gitops:\n  argocd: {}\n",
        [(2, 3, "missing key 'repository'")],
    ),
    (
        "repository-not-a-url",
        "gitops:\n  repository: github.com/example/gitops\n  argocd: {}\n",
        [
            (
                2,
                15,
                "invalid repository URL 'github.com/example/gitops': expected https://,"
                " http:// or ssh:// URL, or git@host:path",
            )
        ],
    ),
    (
        "scp-url-with-flux",
        "gitops:\n  repository: git@github.com:example/gitops.git\n  flux: {}\n",
        [
            (
                2,
                15,
                "Flux's GitRepository needs an ssh:// or https:// URL, not"
                " 'git@github.com:example/gitops.git' (write ssh://user@host/path), or name an"
                " existing one in flux.gitRepository",
            )
        ],
    ),
    (
        "path-escapes-the-repository",
        "gitops:\n  repository: https://g.example.com/r.git\n  path: ../overlays\n  argocd: {}\n",
        [
            (
                3,
                9,
                "invalid path '../overlays': the output directory's path inside the"
                " repository, relative to its root, with '/' between directories and no '..'"
                " (e.g. overlays)",
            )
        ],
    ),
    (
        "absolute-path",
        "gitops:\n  repository: https://g.example.com/r.git\n  path: /overlays\n  argocd: {}\n",
        [
            (
                3,
                9,
                "invalid path '/overlays': the output directory's path inside the"
                " repository, relative to its root, with '/' between directories and no '..'"
                " (e.g. overlays)",
            )
        ],
    ),
    (
        "revision-with-space",
        "gitops:\n  repository: https://g.example.com/r.git\n  revision: my branch\n  argocd: {}\n",
        [(3, 13, "invalid revision 'my branch': a branch, tag or commit, without spaces")],
    ),
    (
        "flux-interval-not-a-duration",
        "gitops:\n  repository: https://g.example.com/r.git\n  flux: {interval: 10 minutes}\n",
        [
            (
                3,
                20,
                "invalid duration '10 minutes': expected a Go duration such as 30s, 5m or 1h30m",
            )
        ],
    ),
    (
        "flux-timeout-a-number",
        "gitops:\n  repository: https://g.example.com/r.git\n  flux: {timeout: 300}\n",
        [
            (
                3,
                19,
                "invalid duration '300': expected a Go duration such as 30s, 5m or 1h30m",
            )
        ],
    ),
    (
        "argocd-unknown-key",
        "gitops:\n  repository: https://g.example.com/r.git\n  argocd: {prun: true}\n",
        [(3, 12, "unknown key 'prun' (did you mean 'prune'?)")],
    ),
    (
        "argocd-applications-unknown",
        "gitops:\n  repository: https://g.example.com/r.git\n  argocd: {applications: AppSet}\n",
        [(3, 26, "expected 'ApplicationSet' or 'Application', got 'AppSet'")],
    ),
    (
        "argocd-prune-yes",
        "gitops:\n  repository: https://g.example.com/r.git\n  argocd: {prune: yes}\n",
        [
            (
                3,
                19,
                "expected true or false, got 'yes': extgen reads YAML 1.2 (as kustomize,"
                " Argo CD and Flux do), where it is a string; write true or false",
            )
        ],
    ),
    (
        "argocd-namespace-invalid",
        "gitops:\n  repository: https://g.example.com/r.git\n  argocd: {namespace: Argo_CD}\n",
        [
            (
                3,
                23,
                "invalid namespace 'Argo_CD': a lowercase RFC 1123 label must consist of lower"
                " case alphanumeric characters or '-', and must start and end with an"
                " alphanumeric character (e.g. 'my-name' or '123-abc')",
            )
        ],
    ),
    (
        "name-prefix-upper-case",
        "gitops:\n  repository: https://g.example.com/r.git\n  flux: {namePrefix: Ext-}\n",
        [
            (
                3,
                22,
                "invalid namePrefix 'Ext-': expected lower-case letters, digits and '-',"
                " e.g. extgen-",
            )
        ],
    ),
    (
        "gitops-not-a-mapping",
        "gitops: https://g.example.com/r.git\n",
        [(1, 9, "expected a mapping, got the string 'https://g.example.com/r.git'")],
    ),
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [(text, expected) for _, text, expected in BAD_GITOPS],
    ids=[row_id for row_id, _, _ in BAD_GITOPS],
)
def test_bad_gitops_settings(tmp_path: Path, text: str, expected: list[Any]) -> None:
    catalog = write_catalog(tmp_path, {"environments.yaml": ENVIRONMENTS, "gitops.yaml": text})
    exit_code, output = validate(catalog)
    assert "Traceback" not in output
    assert error_lines(output) == expected_lines(catalog / "gitops.yaml", expected)
    assert exit_code == 1


BAD_CLUSTERS = [
    (
        "server-and-name",
        "cluster: {server: 'https://k8s.example.com', name: prod}",
        [(5, 14, "a cluster has a server or a name, not both (Argo CD refuses both)")],
    ),
    (
        "server-not-https",
        "cluster: {server: k8s.example.com}",
        [
            (
                5,
                23,
                "invalid cluster server 'k8s.example.com': expected the API server's https:// URL",
            )
        ],
    ),
    (
        "blank-name",
        "cluster: {name: ' '}",
        [(5, 21, "invalid cluster name ' ': Argo CD's name of the cluster, not blank")],
    ),
    (
        "unknown-key",
        "cluster: {url: 'https://k8s.example.com'}",
        [(5, 15, "unknown key 'url' (expected one of: server, name, kubeConfigSecret)")],
    ),
]


@pytest.mark.parametrize(
    ("cluster", "expected"),
    [(cluster, expected) for _, cluster, expected in BAD_CLUSTERS],
    ids=[row_id for row_id, _, _ in BAD_CLUSTERS],
)
def test_bad_cluster_settings(tmp_path: Path, cluster: str, expected: list[Any]) -> None:
    environments = ENVIRONMENTS.replace(
        "    namespace: apps-prod\n", f"    namespace: apps-prod\n    {cluster}\n"
    )
    catalog = write_catalog(tmp_path, {"environments.yaml": environments})
    exit_code, output = validate(catalog)
    assert error_lines(output) == expected_lines(catalog / "environments.yaml", expected)
    assert exit_code == 1


def test_gitops_defined_twice_and_names_too_long(tmp_path: Path) -> None:
    long_env = "e" * 50
    environments = f"environments:\n  {long_env}: {{namespace: apps}}\n"
    gitops = "gitops: {repository: 'https://g.example.com/r.git', argocd: {}}\n"
    catalog = write_catalog(
        tmp_path,
        {"environments.yaml": environments, "gitops.yaml": gitops, "more.yaml": gitops},
    )
    exit_code, output = validate(catalog)
    name = f"extgen-{long_env}-shard-000"
    assert error_lines(output) == [
        f"{catalog}/environments.yaml:2:3: error: the Argo CD object names of environment"
        f" {long_env!r} (up to {name!r}) would be longer than 63 characters, which Argo CD"
        " puts in a label value: shorten the environment name or namePrefix",
        f"{catalog}/more.yaml:1:1: error: 'gitops' is defined twice (first at"
        f" {catalog}/gitops.yaml:1:1); define it in one file",
    ]
    assert exit_code == 1
