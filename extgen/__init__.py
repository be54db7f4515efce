"""extgen: Kustomize bases and overlays for external dependencies, from one catalog.

How a run flows (ARCHITECTURE.md has the map of modules):

    catalog files -> Catalog of records -> Plan -> planned files -> changes to OUT

Glossary, one name per concept:

- catalog: the YAML files a team writes: environments, dependencies, gitops.
- target: a dependency in one environment: a hostname, IP addresses or a selector.
- record (`records.DependencyRecord`): what planning keeps of a valid dependency: its
  name, where it is written, and per environment an object count and a digest of its
  inputs. The model itself is read again (`Catalog.dependency`) only to render.
- fault (`model.Fault`): a broken rule at a path inside a model, before it has a place;
  problem (`errors.Problem`): a fault at its file:line:column.
- plan (`plan.Plan`): what to generate: per environment its dependencies and shards, and
  the delivery objects. manifest (`manifest.Manifest`): one object as extgen writes it.
- shard: a part of a large environment, a kustomization of its own; deployment: a
  kustomization that one Argo CD Application or Flux Kustomization deploys.
- layout (`layout.py`): where each file lives in OUT.
- planned file (`render.PlannedFile`): a file of OUT before its text is rendered.
- fingerprint: a digest of everything a file's text is rendered from.
- marker: the first line of every file extgen writes; it makes the file extgen's.
- seal: 16 hex digits on the marker line, from the fingerprint and the text below.
- stamp: what a file in OUT is known by: a digest of its text and its seal (24 bytes).
- existing (`output.Existing`): what OUT holds, as scanned.
- changes (`sync.Changes`): what a render does to OUT: `plan_changes`, `apply_changes`.
- site (`parallel.py`): a step that may run in two processes.
- guardrails (`guardrails.py`): objects an environment asks for beyond the Services:
  per dependency (network policies, probes) in its file, the environment's own (the
  connection ConfigMaps, the admission policy) in `_guardrails.yaml`.
- destination (`deploy.Destination`): an environment as delivery sees it; root
  application: the Argo CD application that syncs OUT/_gitops/argocd (`argocd.py`);
  an environment's own files (`EnvironmentPlan.files`): e.g. `_namespaces.yaml`, the
  Namespaces of `createNamespaces` (`namespaces.py`).
- violation (`crd.Violation`): a field a shipped CRD schema refuses.
- finding (`verify.Finding`): what `verify` found wrong in a build; issue
  (`report.Issue`): anything reported, in the format asked for.
- check (`doctor.Check`): one thing `doctor` tried against a target (dns, tls, connect),
  with its status, reason and message.
"""

__version__ = "0.1.0"
