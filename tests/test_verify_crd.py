"""`verify` checks custom resources against the shipped upstream CRD schemas, with the real
kustomize, as the core kinds against the Kubernetes OpenAPI schema."""

from __future__ import annotations

from pathlib import Path

from helpers import ENVIRONMENTS, ORDERS_DB, run, write_catalog

from extgen import crd
from extgen.yamlio import parse_all_core

GITOPS = """\
gitops:
  repository: https://git.example.com/platform/gitops.git
  revision: main
  argocd: {namespace: argocd}
  flux: {interval: 10m}
"""


def rendered(tmp_path: Path) -> tuple[Path, Path]:
    files = {"environments.yaml": ENVIRONMENTS, "dependencies.yaml": ORDERS_DB}
    catalog = write_catalog(tmp_path, {**files, "gitops.yaml": GITOPS})
    out = tmp_path / "overlays"
    result = run("render", "-c", str(catalog), "-o", str(out))
    assert result.exit_code == 0, result.output
    return catalog, out


def verify_errors(catalog: Path, out: Path) -> list[str]:
    result = run("verify", "-c", str(catalog), "-o", str(out))
    return [line for line in result.output.splitlines() if line.startswith("error:")]


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert text.count(old) == 1, f"{old!r} not once in {path}"
    path.write_text(text.replace(old, new))


def test_delivery_objects_pass_their_crd_schemas(tmp_path: Path) -> None:
    catalog, out = rendered(tmp_path)
    kinds = {
        (body["apiVersion"], body["kind"])
        for path in (out / "_gitops").rglob("*.yaml")
        if path.name != "kustomization.yaml"
        for body in parse_all_core(path.read_text(), str(path))
    }
    # Every kind written there has a shipped schema, so none goes unchecked.
    assert ("argoproj.io/v1alpha1", "ApplicationSet") in kinds
    assert ("source.toolkit.fluxcd.io/v1", "GitRepository") in kinds
    assert all(crd.has_schema(*kind) for kind in kinds)
    assert verify_errors(catalog, out) == []


def test_unknown_field_in_a_flux_kustomization(tmp_path: Path) -> None:
    catalog, out = rendered(tmp_path)
    edit(out / "_gitops/flux/dev/sync.yaml", "  prune: true\n", "  prune: true\n  purge: true\n")

    assert verify_errors(catalog, out) == [
        "error: _gitops/flux/dev: Kustomization/flux-system/extgen-dev: spec.purge:"
        " unknown field in the fluxcd/kustomize-controller v1.9.4 CRD schema",
        "error: _gitops/flux/dev: Kustomization/flux-system/extgen-dev: spec.purge:"
        " not defined by the catalog, got True",
    ]


def test_wrong_type_in_an_application_set(tmp_path: Path) -> None:
    catalog, out = rendered(tmp_path)
    edit(
        out / "_gitops/argocd/applicationset.yaml",
        "preserveResourcesOnDeletion: true",
        'preserveResourcesOnDeletion: "true"',
    )

    assert verify_errors(catalog, out) == [
        "error: _gitops/argocd: ApplicationSet/argocd/extgen:"
        " spec.syncPolicy.preserveResourcesOnDeletion:"
        " invalid in the argoproj/argo-cd v3.5.1 CRD schema: expected boolean, got string",
        "error: _gitops/argocd: ApplicationSet/argocd/extgen:"
        " spec.syncPolicy.preserveResourcesOnDeletion: expected True, got 'true'",
    ]


def test_missing_required_field_in_a_git_repository(tmp_path: Path) -> None:
    catalog, out = rendered(tmp_path)
    sync = out / "_gitops/flux/prod/sync.yaml"
    edit(sync, '  url: "https://git.example.com/platform/gitops.git"\n', "")

    errors = verify_errors(catalog, out)
    assert errors[0] == (
        "error: _gitops/flux/prod: GitRepository/flux-system/extgen-prod: spec.url:"
        " invalid in the fluxcd/source-controller v1.9.1 CRD schema: required field missing"
    )
    assert errors[1:] == [
        "error: _gitops/flux/prod: GitRepository/flux-system/extgen-prod: spec.url:"
        " missing, expected 'https://git.example.com/platform/gitops.git'"
    ]
