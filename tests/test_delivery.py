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

from extgen import crd
from extgen.catalog import read_catalog
from extgen.kustomize import build, find_kustomize
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
    ("argoproj.io/v1alpha1", "AppProject"): [
        "metadata.name",
        "metadata.namespace",
        "spec.sourceRepos",
        "spec.destinations",
        "spec.namespaceResourceWhitelist",
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
    ("argoproj.io/v1alpha1", "Application"): {
        "spec.syncPolicy.automated.prune": True,
        "spec.syncPolicy.retry.limit": 5,
    },
    ("argoproj.io/v1alpha1", "ApplicationSet"): {
        "spec.template.spec.syncPolicy.automated.prune": True
    },
    ("kustomize.toolkit.fluxcd.io/v1", "Kustomization"): {
        "spec.prune": True,
        "spec.wait": True,
        # Objects of a deleted Kustomization stay for the one that now holds them.
        "spec.deletionPolicy": "Orphan",
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
        found = field(body, path)
        if type(found) is not type(value) or found != value:
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
        "_gitops/argocd/appproject.yaml",
        "_gitops/argocd/root.yaml",
        "_gitops/flux/dev/sync.yaml",
        "_gitops/flux/dr/sync.yaml",
        "_gitops/flux/prod/sync.yaml",
        "_gitops/flux/staging/sync.yaml",
    ]
    for documents in files.values():
        for body in documents:
            assert structural_problems(body) == []
    apps = [app for app in applications(out) if app["metadata"]["name"] != "extgen"]
    for app in apps:
        assert structural_problems(app) == []
        assert app["spec"]["project"] == "extgen"
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
        assert repository["metadata"]["name"] == f"extgen-{env}"
        assert kustomization["spec"] == {
            "interval": "10m",
            "path": f"./overlays/{env}",
            "prune": True,
            "deletionPolicy": "Orphan",
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
    out = tmp_path / "overlays"
    render(catalog, out)
    plan = plan_catalog(read_catalog(catalog))
    dev = next(env for env in plan.environments if env.name == "dev")
    assert dev.shards == 8
    files = delivered(out)
    assert sorted(files) == [
        "_gitops/argocd/appproject.yaml",
        "_gitops/argocd/dev.yaml",
        "_gitops/argocd/prod.yaml",
        "_gitops/argocd/root.yaml",
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


COMMIT = "0123456789abcdef0123456789abcdef01234567"
# gitops.revision as written -> Flux's GitRepository ref, Argo CD's targetRevision.
REVISIONS: list[tuple[str, dict[str, str], str]] = [
    ("main", {"branch": "main"}, "main"),
    ("release/2026-11", {"branch": "release/2026-11"}, "release/2026-11"),
    ("refs/heads/main", {"branch": "main"}, "main"),
    ("refs/tags/v1.0.0", {"tag": "v1.0.0"}, "refs/tags/v1.0.0"),
    ("refs/pull/7/head", {"name": "refs/pull/7/head"}, "refs/pull/7/head"),
    (COMMIT, {"commit": COMMIT}, COMMIT),
    ("{branch: main}", {"branch": "main"}, "main"),
    # A branch named as a version: Argo CD would read the short name as a semver range.
    ("{branch: '1.2'}", {"branch": "1.2"}, "refs/heads/1.2"),
    ("{tag: v1.2.0}", {"tag": "v1.2.0"}, "refs/tags/v1.2.0"),
    ("{semver: '>=1.2.0 <1.3.0'}", {"semver": ">=1.2.0 <1.3.0"}, ">=1.2.0 <1.3.0"),
    (f"{{commit: {COMMIT}}}", {"commit": COMMIT}, COMMIT),
]


@pytest.mark.parametrize(
    ("revision", "ref", "target_revision"), REVISIONS, ids=[row[0] for row in REVISIONS]
)
def test_revision_becomes_the_git_repository_ref_and_the_target_revision(
    tmp_path: Path, revision: str, ref: dict[str, str], target_revision: str
) -> None:
    written = revision if revision.startswith("{") else f"'{revision}'"
    gitops = f"""\
        gitops:
          repository: https://git.example.com/gitops.git
          revision: {written}
          argocd: {{applications: Application}}
          flux: {{}}
        """
    out = tmp_path / "overlays"
    render(gitops_catalog(tmp_path, gitops), out)
    repository = delivered(out)["_gitops/flux/dev/sync.yaml"][0]
    assert repository["spec"]["ref"] == ref
    for app in applications(out):
        assert app["spec"]["source"]["targetRevision"] == target_revision


def test_kube_config_secret_sends_a_flux_kustomization_to_another_cluster(
    tmp_path: Path,
) -> None:
    environments = ENVIRONMENTS.replace(
        "dev: {namespace: apps-dev}",
        "dev: {namespace: apps-dev, cluster: {kubeConfigSecret: dev-kubeconfig}}",
    )
    gitops = "gitops: {repository: 'https://git.example.com/g.git', flux: {}}\n"
    out = tmp_path / "overlays"
    render(gitops_catalog(tmp_path, gitops, environments), out)
    dev = delivered(out)["_gitops/flux/dev/sync.yaml"][1]
    assert dev["spec"]["kubeConfig"] == {"secretRef": {"name": "dev-kubeconfig"}}
    prod = delivered(out)["_gitops/flux/prod/sync.yaml"][1]
    assert "kubeConfig" not in prod["spec"]


def test_removing_the_gitops_block_removes_what_it_wrote(tmp_path: Path) -> None:
    gitops = "gitops: {repository: 'https://git.example.com/g.git', argocd: {}, flux: {}}\n"
    catalog = gitops_catalog(tmp_path, gitops)
    out = tmp_path / "overlays"
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
    out = tmp_path / "overlays"
    render(catalog, out)
    environments = ENVIRONMENTS + "  eu:\n    namespace: apps-eu\n    cluster: {name: eu-1}\n"
    (catalog / "environments.yaml").write_text(environments)
    deps = (catalog / "dependencies.yaml").read_text().replace("dev: d0.", "eu: e0.x.com, dev: d0.")
    (catalog / "dependencies.yaml").write_text(deps)
    render(catalog, out)
    names = [app["metadata"]["name"] for app in applications(out)]
    assert sorted(names) == ["extgen", "extgen-dev", "extgen-eu", "extgen-prod"]
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
        "revision-reads-as-a-version",
        "gitops:\n  repository: https://g.example.com/r.git\n  revision: v1.2.0\n  flux: {}\n",
        [
            (
                3,
                13,
                "revision 'v1.2.0' reads as a version: write {tag: v1.2.0} for the tag, or"
                " {branch: v1.2.0} for a branch of that name",
            )
        ],
    ),
    (
        "revision-a-number-that-reads-as-a-version",
        "gitops:\n  repository: https://g.example.com/r.git\n  revision: 1.2\n  flux: {}\n",
        [
            (
                3,
                13,
                "revision '1.2' reads as a version: write {tag: 1.2} for the tag, or"
                " {branch: 1.2} for a branch of that name",
            )
        ],
    ),
    (
        "revision-mapping-with-two-kinds",
        "gitops:\n  repository: https://g.example.com/r.git\n"
        "  revision: {tag: v1, branch: main}\n  flux: {}\n",
        [
            (
                3,
                13,
                "a revision mapping needs exactly one of branch, tag, semver, commit; it has"
                " branch and tag",
            )
        ],
    ),
    (
        "revision-mapping-empty",
        "gitops:\n  repository: https://g.example.com/r.git\n  revision: {}\n  flux: {}\n",
        [
            (
                3,
                13,
                "a revision mapping needs exactly one of branch, tag, semver, commit; it has none",
            )
        ],
    ),
    (
        "revision-mapping-unknown-key",
        "gitops:\n  repository: https://g.example.com/r.git\n  revision: {tagg: v1}\n  flux: {}\n",
        [(3, 14, "unknown key 'tagg' (did you mean 'tag'?)")],
    ),
    (
        "revision-commit-not-a-hash",
        "gitops:\n  repository: https://g.example.com/r.git\n  revision: {commit: abc}\n"
        "  flux: {}\n",
        [
            (
                3,
                22,
                "invalid commit 'abc': expected its full hash, 40 (SHA-1) or 64 (SHA-256)"
                " lower-case hexadecimal digits",
            )
        ],
    ),
    (
        "revision-semver-blank",
        "gitops:\n  repository: https://g.example.com/r.git\n  revision: {semver: ' '}\n"
        "  flux: {}\n",
        [(3, 22, "invalid semver range ' ': a range over tags, e.g. '>=1.2.0 <1.3.0'")],
    ),
    (
        "app-project-named-default",
        "gitops:\n  repository: https://g.example.com/r.git\n  argocd: {namePrefix: default-}\n",
        [
            (
                3,
                24,
                "the AppProject extgen writes would be named 'default', which is Argo CD's own"
                " project: change namePrefix, or set project: default to use that one",
            )
        ],
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


# --- delivery at scale: Flux directories together, names, the AppProject, bootstrap ----------

FOUR_ENVIRONMENTS = """\
environments:
  dev: {namespace: apps-dev}
  staging: {namespace: apps-staging}
  prod: {namespace: apps-prod, shardSize: 10}
  dr: {namespace: apps-dr, cluster: {server: 'https://dr.k8s.example.com'}}
"""


def four_environment_catalog(root: Path, gitops: str) -> Path:
    dependencies = "dependencies:\n" + "".join(
        f"  - name: dep-{index}\n    targets: {{dev: d{index}.example.com,"
        f" staging: s{index}.example.com, prod: p{index}.example.com, dr: r{index}.example.com}}\n"
        for index in range(20)
    )
    files = {"environments.yaml": FOUR_ENVIRONMENTS, "dependencies.yaml": dependencies}
    files["gitops.yaml"] = textwrap.dedent(gitops)
    return write_catalog(root, files)


@pytest.mark.parametrize(
    "environments",
    [["dev", "staging"], ["dev", "staging", "prod"], ["dev", "staging", "prod", "dr"]],
    ids=["two", "three", "all"],
)
def test_any_set_of_flux_directories_builds_in_one_kustomization(
    tmp_path: Path, environments: list[str]
) -> None:
    gitops = "gitops: {repository: 'https://git.example.com/g.git', flux: {}}\n"
    out = tmp_path / "overlays"
    render(four_environment_catalog(tmp_path, gitops), out)
    cluster = tmp_path / "clusters" / "shared"
    cluster.mkdir(parents=True)
    listed = "".join(f"  - ../../overlays/_gitops/flux/{env}\n" for env in environments)
    (cluster / "kustomization.yaml").write_text(f"resources:\n{listed}")
    built = [doc for doc in parse_all_core(build(find_kustomize(), cluster), "built") if doc]
    names = sorted((body["kind"], body["metadata"]["name"]) for body in built)
    kustomizations = [
        name for env in environments for name in flux_names(env, "prod" if env == "prod" else "")
    ]
    assert names == sorted(
        [("GitRepository", f"extgen-{env}") for env in environments]
        + [("Kustomization", name) for name in kustomizations]
    )


def flux_names(env: str, sharded: str) -> list[str]:
    if not sharded:
        return [f"extgen-{env}"]
    return [f"extgen-{env}-shard-{index:03d}" for index in range(4)]


def test_app_project_allows_the_repository_the_destinations_and_the_kinds_only(
    tmp_path: Path,
) -> None:
    environments = FOUR_ENVIRONMENTS.replace(
        "staging: {namespace: apps-staging}",
        "staging: {namespace: apps-staging, createNamespaces: true}",
    )
    gitops = "gitops: {repository: 'https://git.example.com/g.git', argocd: {}}\n"
    catalog = four_environment_catalog(tmp_path, gitops)
    (catalog / "environments.yaml").write_text(environments)
    deps = (catalog / "dependencies.yaml").read_text()
    # dev and dr (each on its cluster) also write into `shared`.
    for target in ("dev: d0.example.com", "dr: r0.example.com"):
        env, host = target.split(": ")
        deps = deps.replace(target, f"{env}: {{externalName: {host}, namespaces: [shared]}}")
    (catalog / "dependencies.yaml").write_text(deps)
    out = tmp_path / "overlays"
    render(catalog, out)
    (project,) = delivered(out)["_gitops/argocd/appproject.yaml"]
    assert project["metadata"]["name"] == "extgen"
    assert project["spec"]["sourceRepos"] == ["https://git.example.com/g.git"]
    in_cluster = "https://kubernetes.default.svc"
    assert project["spec"]["destinations"] == [
        {"server": "https://dr.k8s.example.com", "namespace": namespace}
        for namespace in ("apps-dr", "shared")
    ] + [
        {"server": in_cluster, "namespace": namespace}
        for namespace in ("apps-dev", "apps-prod", "apps-staging", "shared")
    ]
    # Namespaces only because staging asks for them; no other cluster-scoped kind.
    assert project["spec"]["clusterResourceWhitelist"] == [{"group": "", "kind": "Namespace"}]
    assert project["spec"]["namespaceResourceWhitelist"] == [
        {"group": "", "kind": "Service"},
        {"group": "discovery.k8s.io", "kind": "EndpointSlice"},
        {"group": "", "kind": "Endpoints"},
    ]
    for app in applications(out):
        expected = "default" if app["metadata"]["name"] == "extgen" else "extgen"
        assert app["spec"]["project"] == expected
    # Every object an application writes is allowed by its project.
    allowed = {(d["server"], d["namespace"]) for d in project["spec"]["destinations"]}
    for app in applications(out):
        if app["spec"]["project"] == "extgen":
            for body in built_objects(out, app["spec"]["source"]["path"]):
                namespace = body["metadata"].get("namespace")
                server = app["spec"]["destination"]["server"]
                assert namespace is None or (server, namespace) in allowed


def built_objects(out: Path, path: str) -> list[dict[str, Any]]:
    directory = out / path.removeprefix("overlays/")
    return [doc for doc in parse_all_core(build(find_kustomize(), directory), "built") if doc]


def test_an_existing_project_is_used_and_none_written(tmp_path: Path) -> None:
    gitops = "gitops: {repository: 'https://g.example.com/r.git', argocd: {project: team-a}}\n"
    out = tmp_path / "overlays"
    render(four_environment_catalog(tmp_path, gitops), out)
    assert "_gitops/argocd/appproject.yaml" not in delivered(out)
    projects = {app["metadata"]["name"]: app["spec"]["project"] for app in applications(out)}
    assert projects.pop("extgen") == "default"
    assert set(projects.values()) == {"team-a"}


@pytest.mark.parametrize("variant", ["ApplicationSet", "Application"])
def test_after_bootstrap_a_commit_adds_and_removes_applications(
    tmp_path: Path, variant: str
) -> None:
    """The root application syncs OUT/_gitops/argocd with prune: whatever a render writes
    there is what Argo CD holds after the next sync, applications of vanished shards
    deleted without their objects (no resources finalizer)."""
    gitops = f"""\
        gitops:
          repository: https://git.example.com/g.git
          path: deploy/overlays
          argocd: {{applications: {variant}}}
        """
    catalog = four_environment_catalog(tmp_path, gitops)
    out = tmp_path / "deploy" / "overlays"
    render(catalog, out)
    (root,) = delivered(out)["_gitops/argocd/root.yaml"]
    assert root["spec"]["source"]["path"] == "deploy/overlays/_gitops/argocd"
    assert root["spec"]["syncPolicy"]["automated"]["prune"] is True
    assert root["spec"]["destination"] == {
        "server": "https://kubernetes.default.svc",
        "namespace": "argocd",
    }
    # The root application is among what it syncs: it is applied once, by hand.
    listed = (out / "_gitops" / "argocd" / "kustomization.yaml").read_text()
    assert "root.yaml" in listed
    before = {app["metadata"]["name"] for app in applications(out)}
    assert {f"extgen-prod-shard-{index:03d}" for index in range(4)} <= before
    environments = FOUR_ENVIRONMENTS.replace("shardSize: 10", "shards: 2").replace(
        "  dr: {namespace: apps-dr, cluster: {server: 'https://dr.k8s.example.com'}}\n", ""
    )
    (catalog / "environments.yaml").write_text(environments)
    deps = (catalog / "dependencies.yaml").read_text()
    (catalog / "dependencies.yaml").write_text(re.sub(r", dr: r[0-9]+\.example\.com", "", deps))
    render(catalog, out)
    after = {app["metadata"]["name"] for app in applications(out)}
    assert after == {
        "extgen",
        "extgen-dev",
        "extgen-staging",
        "extgen-prod-shard-000",
        "extgen-prod-shard-001",
    }
    for app in applications(out):
        assert "finalizers" not in app["metadata"]


def test_created_namespaces_are_never_deleted_and_live_in_the_first_shard(
    tmp_path: Path,
) -> None:
    environments = FOUR_ENVIRONMENTS.replace(
        "prod: {namespace: apps-prod, shardSize: 10}",
        "prod: {namespace: apps-prod, shardSize: 10, createNamespaces: true,"
        " namespaceLabels: {team: shop}, labels: {tier: prod}}",
    )
    gitops = "gitops: {repository: 'https://g.example.com/r.git', argocd: {}, flux: {}}\n"
    catalog = four_environment_catalog(tmp_path, gitops)
    (catalog / "environments.yaml").write_text(environments)
    deps = (catalog / "dependencies.yaml").read_text()
    deps = deps.replace(
        "prod: p3.example.com",
        "prod: {externalName: p3.example.com, namespaces: [zeta, apps-prod]}",
    )
    (catalog / "dependencies.yaml").write_text(deps)
    out = tmp_path / "overlays"
    render(catalog, out)
    first = out / "prod" / "shard-000"
    namespaces = parse_all_core((first / "_namespaces.yaml").read_text(), "namespaces")
    assert [body["metadata"]["name"] for body in namespaces if body] == ["apps-prod", "zeta"]
    for body in namespaces:
        if body:
            assert body["metadata"]["labels"] == {
                "tier": "prod",
                "team": "shop",
                "kustomize.toolkit.fluxcd.io/prune": "disabled",
            }
            assert body["metadata"]["annotations"] == {
                "argocd.argoproj.io/sync-options": "Delete=false,Prune=false"
            }
    assert "_namespaces.yaml" in (first / "kustomization.yaml").read_text()
    assert not (out / "prod" / "shard-001" / "_namespaces.yaml").exists()
    assert not list((out / "dev").glob("_*"))
    built = built_objects(out, "prod/shard-000")
    assert sorted(b["metadata"]["name"] for b in built if b["kind"] == "Namespace") == [
        "apps-prod",
        "zeta",
    ]
    # Flux applies the other shards once the first one is ready.
    kustomizations = delivered(out)["_gitops/flux/prod/sync.yaml"][1:]
    assert [k["spec"].get("dependsOn") for k in kustomizations] == [None] + [
        [{"name": "extgen-prod-shard-000"}]
    ] * 3
    assert "dependsOn" not in delivered(out)["_gitops/flux/dev/sync.yaml"][1]["spec"]
    result = run("verify", "-c", str(catalog), "-o", str(out))
    assert result.exit_code == 0, result.output


def test_render_refuses_an_output_directory_that_gitops_path_does_not_name(
    tmp_path: Path,
) -> None:
    gitops = "gitops: {repository: 'https://g.example.com/r.git', flux: {}}\n"
    catalog = gitops_catalog(tmp_path, gitops)
    result = run("render", "-c", str(catalog), "-o", str(tmp_path / "out"))
    assert result.exit_code == 1
    assert (
        "error: the Argo CD and Flux objects point at overlays/ in the repository (the default"
        f" gitops.path), but the output directory is {tmp_path / 'out'}: set gitops.path to"
        " the output directory's path in the repository, or render into a directory named"
        " overlays"
    ) in result.output
    assert not (tmp_path / "out").exists()
    check = run("render", "--check", "-c", str(catalog), "-o", str(tmp_path / "out"))
    assert check.exit_code == 1
    assert "gitops.path" in check.output
    # Set explicitly, the path is the user's word for where OUT is committed.
    (catalog / "gitops.yaml").write_text(
        "gitops: {repository: 'https://g.example.com/r.git', path: ops/ext, flux: {}}\n"
    )
    render(catalog, tmp_path / "out")
    kustomization = delivered(tmp_path / "out")["_gitops/flux/dev/sync.yaml"][1]
    assert kustomization["spec"]["path"] == "./ops/ext/dev"


def test_delivery_names_that_the_controllers_own_are_refused(tmp_path: Path) -> None:
    environments = (
        "environments:\n  system: {namespace: apps-system}\n  extgen: {namespace: apps}\n"
        "  dev: {namespace: apps-dev, namespaceLabels: {team: a}}\n"
    )
    gitops = (
        "gitops:\n  repository: https://g.example.com/r.git\n"
        "  argocd: {namePrefix: ''}\n  flux: {namePrefix: flux-}\n"
    )
    catalog = write_catalog(tmp_path, {"environments.yaml": environments, "gitops.yaml": gitops})
    exit_code, output = validate(catalog)
    assert error_lines(output) == expected_lines(
        catalog / "environments.yaml",
        [
            (
                2,
                3,
                "the Flux objects of environment 'system' would be named 'flux-system', which"
                " Flux names its own objects: rename the environment or change flux.namePrefix",
            ),
            (
                3,
                3,
                "the Argo CD application of environment 'extgen' would be named 'extgen', as"
                " extgen's root application is: set argocd.namePrefix",
            ),
            (
                4,
                8,
                "namespaceLabels needs createNamespaces: true (they label the Namespaces it"
                " writes)",
            ),
        ],
    )
    assert exit_code == 1


# --- every delivery object against the upstream CRD schemas (extgen/crds) -----------------

CRD_VARIANTS = {
    "applicationset-flux-repository": """\
        gitops:
          repository: https://git.example.com/g.git
          revision: {tag: v1.2.0}
          argocd: {}
          flux: {}
        """,
    "applications-existing-project-existing-source": """\
        gitops:
          repository: ssh://git@git.example.com/g.git
          revision: {semver: '>=1.2.0 <1.3.0'}
          argocd: {applications: Application, project: team-a, prune: false}
          flux: {gitRepository: flux-system, wait: false, prune: false}
        """,
    "commit-and-kube-config": """\
        gitops:
          repository: https://git.example.com/g.git
          revision: 0123456789abcdef0123456789abcdef01234567
          argocd: {namePrefix: ext-}
          flux: {namePrefix: ext-}
        """,
}
CRD_ENVIRONMENTS = FOUR_ENVIRONMENTS.replace(
    "dev: {namespace: apps-dev}",
    "dev: {namespace: apps-dev, createNamespaces: true,"
    " cluster: {name: nonprod, kubeConfigSecret: nonprod-kubeconfig}}",
).replace("shardSize: 10}", "shardSize: 10, createNamespaces: true}")


@pytest.mark.parametrize("gitops", CRD_VARIANTS.values(), ids=CRD_VARIANTS.keys())
def test_every_delivery_object_fits_its_upstream_crd_schema(tmp_path: Path, gitops: str) -> None:
    catalog = four_environment_catalog(tmp_path, gitops)
    (catalog / "environments.yaml").write_text(CRD_ENVIRONMENTS)
    out = tmp_path / "overlays"
    render(catalog, out)
    bodies = [body for documents in delivered(out).values() for body in documents]
    # The ApplicationSet's template, expanded per element, is checked as an Application.
    bodies += [app for app in applications(out) if app not in bodies]
    kinds = {body["kind"] for body in bodies}
    assert {"Application", "Kustomization"} <= kinds
    assert any(body["metadata"]["name"].endswith("-shard-003") for body in bodies)
    assert any("dependsOn" in body["spec"] for body in bodies)
    for body in bodies:
        assert crd.has_schema(body["apiVersion"], body["kind"]), body["kind"]
        assert [v.format() for v in crd.validate(body)] == [], body["metadata"]["name"]


def test_a_field_the_crd_does_not_know_is_refused(tmp_path: Path) -> None:
    gitops = "gitops: {repository: 'https://g.example.com/r.git', argocd: {}, flux: {}}\n"
    out = tmp_path / "overlays"
    render(four_environment_catalog(tmp_path, gitops), out)
    for documents in delivered(out).values():
        for body in documents:
            wrong = {**body, "spec": {**body["spec"], "prunee": True}}
            assert [v.format() for v in crd.validate(wrong)] == ["spec.prunee: unknown field"]


def test_a_namespace_shared_on_one_cluster_is_written_by_one_environment(
    tmp_path: Path,
) -> None:
    environments = FOUR_ENVIRONMENTS.replace(
        "{namespace: apps-dev}", "{namespace: apps-dev, createNamespaces: true}"
    ).replace("{namespace: apps-staging}", "{namespace: apps-staging, createNamespaces: true}")
    gitops = "gitops: {repository: 'https://g.example.com/r.git', flux: {}}\n"
    catalog = four_environment_catalog(tmp_path, gitops)
    (catalog / "environments.yaml").write_text(environments)
    deps = (catalog / "dependencies.yaml").read_text()
    for target in ("dev: d1.example.com", "staging: s2.example.com"):
        env, host = target.split(": ")
        deps = deps.replace(target, f"{env}: {{externalName: {host}, namespaces: [shared]}}")
    (catalog / "dependencies.yaml").write_text(deps)
    out = tmp_path / "overlays"
    render(catalog, out)

    def names(env: str) -> list[str]:
        text = (out / env / "_namespaces.yaml").read_text()
        return [body["metadata"]["name"] for body in parse_all_core(text, env) if body]

    # dev and staging share the cluster: `shared` is dev's (the first by name) alone.
    assert names("dev") == ["apps-dev", "shared"]
    assert names("staging") == ["apps-staging"]
    result = run("verify", "-c", str(catalog), "-o", str(out))
    assert result.exit_code == 0, result.output


def test_the_app_project_allows_every_object_of_the_example_and_no_other_kind(
    tmp_path: Path,
) -> None:
    """prod turns on createNamespaces and every guardrail: each object its applications
    build must be of a kind, and in a (cluster, namespace), that the project allows."""
    out = tmp_path / "overlays"
    render(ROOT / "catalog", out)
    (project,) = delivered(out)["_gitops/argocd/appproject.yaml"]
    spec = project["spec"]
    namespaced = {(k["group"], k["kind"]) for k in spec["namespaceResourceWhitelist"]}
    cluster_scoped = {(k["group"], k["kind"]) for k in spec["clusterResourceWhitelist"]}
    destinations = {
        (d.get("server") or d.get("name"), d["namespace"]) for d in spec["destinations"]
    }
    seen: set[tuple[str, str]] = set()
    for app in applications(out):
        if app["spec"]["project"] != project["metadata"]["name"]:
            continue
        destination = app["spec"]["destination"]
        cluster = destination.get("server") or destination.get("name")
        for body in built_objects(out, app["spec"]["source"]["path"]):
            group = body["apiVersion"].rpartition("/")[0]
            kind = (group, body["kind"])
            seen.add(kind)
            namespace = body["metadata"].get("namespace")
            if namespace is None:
                assert kind in cluster_scoped, kind
            else:
                assert kind in namespaced, kind
                assert (cluster, namespace) in destinations, (cluster, namespace)
    # Nothing is allowed that extgen does not write.
    assert namespaced | cluster_scoped == seen
