"""The catalog as immutable, validated values: environments, dependencies, ports, targets.

Models check what one value can check (field types in `fields.py`); rules that relate
several fields of one dependency are `Dependency.problems()`; rules that need the
environment (allowed targets, names inside the cluster) live in `policy.py`.
"""

from __future__ import annotations

import difflib
import functools
import ipaddress
import typing
from collections.abc import Iterator
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    model_validator,
)
from pydantic.alias_generators import to_camel

from extgen import k8s
from extgen.fields import (
    AnnotationKey,
    AnnotationText,
    Boolean,
    ClusterDomain,
    ClusterName,
    ClusterServer,
    CommitId,
    Duration,
    EndpointIP,
    FullReference,
    Hostname,
    LabelKey,
    LabelValue,
    NamePrefix,
    Namespace,
    ObjectName,
    PortName,
    PortNumber,
    Positive,
    QualifiedName,
    RepositoryPath,
    RepositoryUrl,
    Revision,
    SelectorKey,
    SemverRange,
    ServerName,
    ServiceName,
    TargetPort,
    Text,
    fail,
    looks_like_ip,
    non_empty,
    own_label_problems,
    revision_form,
)
from extgen.guardrail_fields import BlackboxModule, ProberUrl, PrometheusDuration
from extgen.yamlio import NodePath, SourceScalar

Labels = dict[LabelKey, LabelValue]
Annotations = dict[AnnotationKey, AnnotationText]
# A rule broken inside a model, at a path in it, before the path is given a position.
Fault = tuple[NodePath, str]
TARGET_FORMS = ("externalName", "addresses", "selector")


# Shared by every model, so that a large catalog holds them once rather than once per
# model (see Model._share): the empty mapping of a field left empty, and each distinct
# set of the fields given.
_EMPTY: dict[Any, Any] = {}
_FIELDS_SETS: dict[tuple[type, tuple[str, ...]], set[str]] = {}


class Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        strict=True,
        alias_generator=to_camel,
        populate_by_name=True,
    )

    @model_validator(mode="after")
    def _share(self) -> Model:
        """Shares the empty mappings and the set of fields given between models.

        A dependency with four targets is seven models holding eleven mappings, eight of
        them empty, and seven sets; shared, the catalog takes a third less memory. Models
        are frozen and nothing writes into their mappings or their set of fields.
        """
        values = self.__dict__
        for key in _mapping_fields(type(self)):
            if values[key] == {}:
                values[key] = _EMPTY
        given = self.__pydantic_fields_set__
        # A tuple is a cheaper key than a frozenset; equal sets listed in another order
        # are merely kept twice.
        shared = _FIELDS_SETS.setdefault((type(self), tuple(given)), given)
        object.__setattr__(self, "__pydantic_fields_set__", shared)
        return self


@functools.cache
def _mapping_fields(model: type[BaseModel]) -> tuple[str, ...]:
    """The fields of a model whose values are dicts."""
    return tuple(
        name
        for name, field in model.model_fields.items()
        if typing.get_origin(field.annotation) is dict
    )


class Port(Model):
    """One port of the Service (and of its endpoints)."""

    name: PortName | None = Field(None, description="DNS-1123 label; required with 2+ ports")
    port: PortNumber = Field(description="The port the Service exposes, 1-65535")
    protocol: Literal["TCP", "UDP", "SCTP"] = Field("TCP", description="TCP, UDP or SCTP")
    app_protocol: QualifiedName | None = Field(
        None, description="Application protocol, e.g. http, kubernetes.io/h2c"
    )
    target_port: TargetPort | None = Field(
        None,
        description="Port on the endpoints (IP targets: a number) or on the pods (selector"
        " targets: a number or a port name); defaults to port",
    )


class Tls(Model):
    """TLS facts about the target, for clients and reviewers."""

    server_name: ServerName = Field(description="TLS server name clients should verify")


def _allowed_target(value: str) -> str:
    if "/" in value or looks_like_ip(value):
        try:
            return str(ipaddress.ip_network(value, strict=True))
        except ValueError as error:
            raise fail(f"invalid CIDR {value!r} in allowedTargets: {error}") from None
    pattern = value.lower()
    domain = pattern[2:] if pattern.startswith("*.") else pattern
    reasons = k8s.is_dns1123_subdomain(domain.rstrip("."))
    if reasons:
        raise fail(
            f"invalid allowedTargets entry {value!r}: a hostname, a '*.domain' pattern or"
            f" a CIDR; {'; '.join(reasons)}"
        )
    return pattern.rstrip(".")


AllowedTarget = Annotated[Text, AfterValidator(_allowed_target)]


class Cluster(Model):
    """The cluster an environment is deployed to, for the Argo CD and Flux objects."""

    server: ClusterServer | None = Field(
        None, description="Argo CD destination: the cluster's API server URL"
    )
    name: ClusterName | None = Field(
        None, description="Argo CD destination: the cluster's name in Argo CD"
    )
    kube_config_secret: ObjectName | None = Field(
        None,
        description="Flux: Secret (in Flux's namespace) holding the cluster's kubeconfig,"
        " for a Flux that deploys to other clusters",
    )

    @model_validator(mode="after")
    def _one_destination(self) -> Cluster:
        if self.server is not None and self.name is not None:
            raise fail("a cluster has a server or a name, not both (Argo CD refuses both)")
        return self


class NetworkPolicy(Model):
    """Egress allowed to a dependency for the pods that declare it, and to the cluster DNS."""

    fqdn: Literal["cilium"] | None = Field(
        None,
        description="cilium: also a CiliumNetworkPolicy allowing the hostname targets by"
        " name (toFQDNs)",
    )


class Probes(Model):
    """A Prometheus Operator Probe per dependency, through a blackbox exporter."""

    prober: ProberUrl = Field(
        description="The blackbox exporter: host:port or http(s)://host:port[/path]"
    )
    interval: PrometheusDuration = Field("30s", description="How often each dependency is probed")
    module: BlackboxModule | None = Field(
        None,
        description="The blackbox module for every dependency (default: http_2xx for HTTP"
        " ports, tcp_connect otherwise)",
    )


def _switch(value: Any) -> Any:
    """`true` turns settings on with their defaults; `false` or null leaves them off."""
    if isinstance(value, SourceScalar) and isinstance(value.value, bool):
        return {} if value.value else None
    if value is None or isinstance(value, dict):
        return value
    raise fail(f"expected true, false or a mapping such as {{fqdn: cilium}}, got {_shown(value)}")


def _settings(value: Any) -> Any:
    """Probes need a prober: `true` alone cannot say where the blackbox exporter is."""
    if isinstance(value, SourceScalar) and isinstance(value.value, bool):
        raise fail(
            f"expected a mapping such as {{prober: HOST:PORT, interval: 30s}}, got {value.text!r}:"
            " probes need to know where the blackbox exporter is"
        )
    return value


def _shown(value: Any) -> str:
    if isinstance(value, tuple):
        return "a list"
    return repr(value.text if isinstance(value, SourceScalar) else value)


def _switch_schema(schema: dict[str, Any]) -> None:
    """Editors must accept `true`/`false` where the settings mapping may also be written."""
    options = [option for option in schema["anyOf"] if option != {"type": "null"}]
    schema["anyOf"] = [*options, {"type": "boolean"}, {"type": "null"}]


class Environment(Model):
    """Where and how one environment's objects are generated."""

    namespace: Namespace = Field(description="Namespace of every object, unless overridden")
    labels: Labels = Field(default_factory=dict, description="Added to every object")
    annotations: Annotations = Field(default_factory=dict, description="Added to every object")
    cluster_domain: ClusterDomain = Field("cluster.local", description="The cluster's DNS domain")
    allowed_targets: tuple[AllowedTarget, ...] | None = Field(
        None,
        description="If set, the only hostnames ('*.example.com' matches names below"
        " example.com) and CIDRs targets may point at",
    )
    endpoints: Literal["EndpointSlice", "Endpoints", "both"] = Field(
        "EndpointSlice",
        description="What IP targets get: EndpointSlices, legacy Endpoints, or both",
    )
    shard_size: Positive = Field(
        500,
        description="Above this many objects the environment is split into shards, each a"
        " kustomization of its own",
    )
    shards: Positive | None = Field(
        None,
        description="A fixed number of shards (default: chosen from shardSize); fixing it"
        " keeps dependencies in their shard as the environment grows",
    )
    cluster: Cluster | None = Field(
        None,
        description="Where the environment is deployed (with gitops; default: the cluster"
        " Argo CD or Flux runs in)",
    )
    # Guardrails in the cluster (docs/guardrails.md), each off unless asked for.
    admission_policy: Boolean = Field(
        False,
        description="A ValidatingAdmissionPolicy refusing in the cluster what validate refuses"
        " in the catalog (Kubernetes 1.31+)",
    )
    connection_config: Boolean = Field(
        False,
        description="A ConfigMap extgen-connections in each namespace: every dependency's"
        " host, ports and TLS server name",
    )
    network_policy: Annotated[NetworkPolicy | None, BeforeValidator(_switch)] = Field(
        None,
        description="true or {fqdn: cilium}: egress allowed to each dependency for the pods"
        " labelled deps.extgen.io/<dependency>: 'true'",
        json_schema_extra=_switch_schema,
    )
    probes: Annotated[Probes | None, BeforeValidator(_settings)] = Field(
        None, description="A Prometheus Operator Probe per dependency (blackbox exporter)"
    )
    create_namespaces: Boolean = Field(
        False,
        description="Write a Namespace for each namespace the environment's objects are in;"
        " Argo CD and Flux never delete them",
    )
    namespace_labels: Labels = Field(
        default_factory=dict, description="Labels of the Namespaces that createNamespaces writes"
    )

    @model_validator(mode="after")
    def _labels_need_namespaces(self) -> Environment:
        if self.namespace_labels and not self.create_namespaces:
            raise fail(
                "namespaceLabels needs createNamespaces: true (they label the Namespaces it writes)"
            )
        return self


class TargetOverrides(Model):
    namespaces: Annotated[tuple[Namespace, ...] | None, non_empty("namespaces")] = Field(
        None, description="Namespaces for this environment", json_schema_extra={"minItems": 1}
    )
    labels: Labels = Field(default_factory=dict, description="Extra labels here")
    annotations: Annotations = Field(default_factory=dict, description="Extra annotations here")
    ports: tuple[Port, ...] | None = Field(None, description="Ports for this environment")


class HostnameTarget(TargetOverrides):
    """An ExternalName Service: a CNAME to a hostname."""

    external_name: Hostname = Field(description="DNS name the Service points at")


class AddressTarget(TargetOverrides):
    """A headless Service with EndpointSlices holding the addresses."""

    addresses: Annotated[tuple[EndpointIP, ...], non_empty("addresses")] = Field(
        description="IPv4/IPv6 addresses", json_schema_extra={"minItems": 1}
    )


class SelectorTarget(TargetOverrides):
    """A ClusterIP Service selecting pods: the dependency now runs in the cluster."""

    selector: Annotated[dict[SelectorKey, LabelValue], non_empty("selector")] = Field(
        description="Pod labels the Service selects", json_schema_extra={"minProperties": 1}
    )


def _short_form(value: Any) -> Any:
    """Turns the short forms (a hostname, an IP, a list of IPs) into the explicit ones."""
    if isinstance(value, SourceScalar):
        value = value.text
    if isinstance(value, str):
        return {"addresses": (value,)} if looks_like_ip(value) else {"externalName": value}
    if isinstance(value, tuple):
        return {"addresses": value}
    if isinstance(value, dict):
        forms = [form for form in TARGET_FORMS if form in value]
        if len(forms) > 1 or (not forms and _misspelt_form(value) is None):
            found = f"has {' and '.join(forms)}" if forms else "has none"
            raise fail(
                f"a target mapping needs exactly one of {', '.join(TARGET_FORMS)}; it {found}"
            )
    return value


_OVERRIDE_KEYS = frozenset({"namespaces", "labels", "annotations", "ports"})


def _misspelt_form(value: dict[str, Any]) -> str | None:
    """The form a mapping without one means by a key close to it (`selektor`), so that
    the key is reported as unknown with a "did you mean"."""
    for key in value:
        if key in _OVERRIDE_KEYS:
            continue
        close = difflib.get_close_matches(key.lower(), [f.lower() for f in TARGET_FORMS], 1)
        if close:
            return TARGET_FORMS[[f.lower() for f in TARGET_FORMS].index(close[0])]
    return None


def _form(value: Any) -> str | None:
    if isinstance(value, TargetOverrides):  # serializing: the model's own form
        return _FORM_OF_MODEL.get(type(value))
    for form in TARGET_FORMS:
        if form in value:
            return form
    return _misspelt_form(value)


_FORM_OF_MODEL = {
    HostnameTarget: "externalName",
    AddressTarget: "addresses",
    SelectorTarget: "selector",
}
Target = Annotated[
    Annotated[HostnameTarget, Tag("externalName")]
    | Annotated[AddressTarget, Tag("addresses")]
    | Annotated[SelectorTarget, Tag("selector")],
    Discriminator(_form),
]
TargetSpec = Annotated[Target | None, BeforeValidator(_short_form)]


class Dependency(Model):
    """One external dependency and its target in each environment."""

    name: ServiceName = Field(description="Service name: DNS-1035 label, at most 63 characters")
    description: AnnotationText | None = Field(None, description="Written as an annotation")
    owner: AnnotationText | None = Field(
        None, description="Team or address; written as an annotation"
    )
    labels: Labels = Field(default_factory=dict, description="Added to every object")
    annotations: Annotations = Field(default_factory=dict, description="Added to every object")
    namespaces: Annotated[tuple[Namespace, ...] | None, non_empty("namespaces")] = Field(
        None,
        description="One Service in each (default: the environment's)",
        json_schema_extra={"minItems": 1},
    )
    ports: tuple[Port, ...] = Field((), description="Service ports")
    tls: Tls | None = Field(None, description="TLS details, written as annotations")
    allow_internal: Boolean = Field(
        False, description="Allow targets inside the cluster (localhost, *.svc, single labels)"
    )
    targets: dict[Text, TargetSpec] = Field(
        description="Per environment: a hostname, an IP or list of IPs, or a mapping with"
        " one of externalName, addresses, selector; null for none"
    )

    def ports_in(self, target: TargetOverrides) -> tuple[Port, ...]:
        return self.ports if target.ports is None else target.ports

    def problems(self, invalid: frozenset[str] = frozenset()) -> Iterator[Fault]:
        """Rules that relate several fields of this dependency.

        `invalid` names the fields that failed validation and were left out, so that
        rules needing them are passed over rather than judged on defaults.
        """
        yield from port_problems(self.ports, ("ports",))
        yield from duplicates(self.namespaces or (), ("namespaces",), "namespace")
        for key, message in own_label_problems(self.labels, self.name):
            yield ("labels", key), message
        reported = set()  # the dependency's own ports are judged once per target
        for env, target in self.targets.items():
            if target is None:
                continue
            for path, message in self._target_problems(env, target, "ports" not in invalid):
                if path[0] != "ports" or path not in reported:
                    reported.add(path)
                    yield path, message

    def _target_problems(
        self, env: str, target: TargetOverrides, ports_known: bool
    ) -> Iterator[Fault]:
        at: NodePath = ("targets", env)
        if target.ports is not None:
            yield from port_problems(target.ports, (*at, "ports"))
        yield from duplicates(target.namespaces or (), (*at, "namespaces"), "namespace")
        for key, message in own_label_problems(target.labels, self.name):
            yield (*at, "labels", key), message
        if isinstance(target, AddressTarget):
            yield from duplicates(target.addresses, (*at, "addresses"), "address")
        if target.ports is None and not ports_known:
            return
        ports_at = (*at, "ports") if target.ports is not None else ("ports",)
        ports = self.ports_in(target)
        if isinstance(target, SelectorTarget) and not ports:
            yield at, f"the selector target in {env!r} needs ports: a ClusterIP Service has some"
        for index, port in enumerate(ports):
            where = (*ports_at, index, "targetPort")
            if isinstance(target, HostnameTarget) and port.target_port not in (None, port.port):
                yield (
                    where,
                    (
                        f"targetPort {port.target_port!r} differs from port {port.port}, but the"
                        f" target in {env!r} is a hostname: an ExternalName Service cannot remap"
                        " ports, clients connect to"
                        f" {target.external_name.removesuffix('.')}:{port.port}; remove"
                        f" targetPort{_listens(port.target_port)}"
                    ),
                )
            if isinstance(target, AddressTarget) and isinstance(port.target_port, str):
                yield (
                    where,
                    (
                        f"targetPort {port.target_port!r} is a port name, but the target in"
                        f" {env!r} is a list of IPs, whose endpoints have no named ports;"
                        " use a number"
                    ),
                )


def _listens(target_port: int | str | None) -> str:
    if isinstance(target_port, int):
        return f", and write port: {target_port} if that is where the target listens"
    return ""


def port_problems(ports: tuple[Port, ...], at: NodePath) -> Iterator[Fault]:
    """Kubernetes' rules across a Service's ports (validateServicePort and ValidateService)."""
    if len(ports) > 1:
        for index, port in enumerate(ports):
            if port.name is None:
                yield (*at, index), "each port needs a name when there is more than one port"
    yield from duplicates((port.name for port in ports), at, "port name", field="name")
    keys = [f"{port.port}/{port.protocol}" for port in ports]
    yield from duplicates(keys, at, "port and protocol", field="port")


def duplicates(values: Any, at: NodePath, what: str, field: str | None = None) -> Iterator[Fault]:
    """Each repeated value once, at its second occurrence."""
    seen: set[Any] = set()
    reported: set[Any] = set()
    for index, value in enumerate(values):
        if value not in seen:
            seen.add(value)
        elif value is not None and value not in reported:
            reported.add(value)
            path = (*at, index, field) if field else (*at, index)
            yield path, f"duplicate {what} {value!r}"


class ArgoCD(Model):
    """Argo CD objects that deploy every environment (or every shard) to its cluster."""

    namespace: Namespace = Field("argocd", description="Namespace Argo CD runs in")
    project: ObjectName | None = Field(
        None,
        description="An existing AppProject for the applications; by default extgen writes"
        " one of least privilege, named after namePrefix",
    )
    applications: Literal["ApplicationSet", "Application"] = Field(
        "ApplicationSet",
        description="One ApplicationSet for all environments, or one Application each",
    )
    name_prefix: NamePrefix = Field(
        "extgen-", description="Applications are named PREFIX<environment>[-shard-NNN]"
    )
    prune: Boolean = Field(True, description="Delete objects the catalog no longer defines")
    self_heal: Boolean = Field(True, description="Undo changes made in the cluster by hand")


class Flux(Model):
    """Flux Kustomizations, one per environment (or per shard)."""

    namespace: Namespace = Field("flux-system", description="Namespace Flux runs in")
    interval: Duration = Field("10m", description="How often Flux reconciles")
    timeout: Duration = Field("5m", description="Time allowed to apply and become ready")
    wait: Boolean = Field(True, description="Wait until every object is ready")
    prune: Boolean = Field(True, description="Delete objects the catalog no longer defines")
    git_repository: ObjectName | None = Field(
        None,
        description="An existing GitRepository (in Flux's namespace) to use; by default"
        " extgen writes one from gitops.repository and gitops.revision",
    )
    name_prefix: NamePrefix = Field(
        "extgen-", description="Kustomizations are named PREFIX<environment>[-shard-NNN]"
    )


REVISION_KINDS = ("branch", "tag", "semver", "commit", "name")


class GitRevision(Model):
    """The Git reference that clusters follow: exactly one of its fields."""

    branch: Revision | None = Field(None, description="A branch, e.g. main")
    tag: Revision | None = Field(None, description="A tag, e.g. v1.2.0")
    semver: SemverRange | None = Field(
        None, description="A semver range over tags, e.g. '>=1.2.0 <1.3.0'"
    )
    commit: CommitId | None = Field(None, description="A commit's full hash")
    name: FullReference | None = Field(None, description="A full reference, e.g. refs/pull/1/head")

    @model_validator(mode="after")
    def _exactly_one(self) -> GitRevision:
        given = [kind for kind in REVISION_KINDS if getattr(self, kind) is not None]
        if len(given) != 1:
            found = f"has {' and '.join(given)}" if given else "has none"
            raise fail(
                f"a revision mapping needs exactly one of branch, tag, semver, commit; it {found}"
            )
        return self

    @property
    def kind(self) -> str:
        return next(kind for kind in REVISION_KINDS if getattr(self, kind) is not None)

    @property
    def value(self) -> str:
        return str(getattr(self, self.kind))


class GitOps(Model):
    """Where the output is committed, and which delivery objects extgen writes for it."""

    repository: RepositoryUrl = Field(description="URL of the Git repository of the output")
    revision: Annotated[
        GitRevision, BeforeValidator(revision_form, json_schema_input_type=str | GitRevision)
    ] = Field(
        "main",  # validated: becomes {branch: main}
        validate_default=True,
        description="What clusters follow: a branch, refs/heads/X, refs/tags/X, a commit, or"
        " {branch|tag|semver|commit: X}",
    )
    path: RepositoryPath = Field(
        "overlays", description="The output directory's path in the repository"
    )
    argocd: ArgoCD | None = Field(None, description="Write Argo CD objects")
    flux: Flux | None = Field(None, description="Write Flux objects")
