#!/usr/bin/env python3
"""Generates Sources/BerthKubeAPI/KubeSchemaTable.swift, Berth's schema table of the Kubernetes
kinds it serves (and every schema they reach).

It reads the interface facts (property names, types, formats, required fields, patch and list
metadata, group-version-kinds) of Kubernetes 1.32 from the JSON Schemas that the PyPI package
`kubernetes-validate` installs (scripts/install-deps.sh installs it), and writes them in OpenAPI v3
form. Upstream descriptions are left out; the served kinds get Berth's own one-line descriptions.

Run once after changing ROOTS or DESCRIPTIONS:  python3 scripts/kube-schema-gen.py
"""
import json
import os
import sys

import kubernetes_validate

VERSION = "v1.32.0-local"

# The kinds whose schemas the table holds, with their lists; what they reference comes along.
ROOTS = [
    "io.k8s.api.core.v1.Namespace", "io.k8s.api.core.v1.Pod", "io.k8s.api.core.v1.ConfigMap", "io.k8s.api.core.v1.Secret",
    "io.k8s.api.core.v1.PersistentVolumeClaim", "io.k8s.api.core.v1.PersistentVolume", "io.k8s.api.core.v1.Event",
    "io.k8s.api.core.v1.Node", "io.k8s.api.core.v1.ServiceAccount", "io.k8s.api.core.v1.Service", "io.k8s.api.core.v1.Endpoints",
    "io.k8s.api.apps.v1.Deployment", "io.k8s.api.apps.v1.ReplicaSet", "io.k8s.api.apps.v1.StatefulSet",
    "io.k8s.api.apps.v1.DaemonSet", "io.k8s.api.apps.v1.ControllerRevision",
    "io.k8s.api.batch.v1.Job", "io.k8s.api.batch.v1.CronJob",
    "io.k8s.api.discovery.v1.EndpointSlice", "io.k8s.api.networking.v1.Ingress", "io.k8s.api.networking.v1.IngressClass",
]
EXTRA = [
    "io.k8s.api.autoscaling.v1.Scale", "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
    "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions", "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
    "io.k8s.apimachinery.pkg.apis.meta.v1.Patch",
]

# Berth's words, shown by `kubectl explain <kind>`.
DESCRIPTIONS = {
    "Namespace": "A scope for the names of namespaced objects.",
    "Pod": "A group of containers that share a network namespace and volumes, run on one node.",
    "ConfigMap": "Configuration data as string or binary values under keys.",
    "Secret": "Sensitive data (base64 in data, plain text in the write-only stringData) under keys.",
    "PersistentVolumeClaim": "A request for storage that pods mount by the claim's name.",
    "PersistentVolume": "A piece of storage that binds to one claim.",
    "Event": "A record of something that happened to an object.",
    "Node": "A machine that runs pods; Berth serves one.",
    "ServiceAccount": "An identity for the processes of pods.",
    "Service": "A stable address for a set of pods chosen by labels.",
    "Endpoints": "The addresses behind a service.",
    "Deployment": "Declares a replicated pod template and rolls changes of it out through replica sets.",
    "ReplicaSet": "Keeps a number of pods from its template running.",
    "StatefulSet": "Runs pods with stable names and storage, in order.",
    "DaemonSet": "Runs one pod from its template on each node.",
    "ControllerRevision": "An immutable snapshot of a controller's template, for rollbacks.",
    "Job": "Runs pods until a number of them complete.",
    "CronJob": "Creates jobs on a schedule.",
    "Scale": "The desired and current replica count of a scalable resource.",
    "EndpointSlice": "A set of a service's endpoints of one address type, with their readiness and ports.",
    "Ingress": "Rules that route outside HTTP traffic to services by host and path.",
    "IngressClass": "A kind of ingress, naming the controller that implements it.",
}

INT_OR_STRING = "io.k8s.apimachinery.pkg.util.intstr.IntOrString"
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
FREE_FORM = {"io.k8s.apimachinery.pkg.runtime.RawExtension", "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1"}
DROPPED = {"description", "x-kubernetes-unions"}


def ref_name(ref):
    return ref.rsplit("/", 1)[-1]


def convert(schema, top=False):
    """One JSON Schema (2020-12, nullable type lists) as an OpenAPI v3 schema without prose."""
    if isinstance(schema, list):
        return [convert(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, value in schema.items():
        if key in DROPPED:
            continue
        if key == "type" and isinstance(value, list):
            kinds = [kind for kind in value if kind != "null"]
            value = kinds[0] if len(kinds) == 1 else kinds
        elif key == "$ref":
            value = "#/components/schemas/" + ref_name(value)
        elif key == "properties":
            value = {name: convert(prop) for name, prop in sorted(value.items())}
            if top and "x-kubernetes-group-version-kind" in schema:
                # kubernetes-validate pins apiVersion and kind with enums; upstream does not.
                for name in ("apiVersion", "kind"):
                    if name in value:
                        value[name].pop("enum", None)
        elif isinstance(value, (dict, list)):
            value = convert(value)
        out[key] = value
    if "$ref" in out and len(out) > 1:
        # OpenAPI v3 ignores siblings of $ref; upstream wraps such references in allOf.
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


def references(schema, found):
    if isinstance(schema, dict):
        for key, value in schema.items():
            if key == "$ref":
                found.add(ref_name(value))
            else:
                references(value, found)
    elif isinstance(schema, list):
        for item in schema:
            references(item, found)


def main():
    base = os.path.join(os.path.dirname(kubernetes_validate.__file__), "kubernetes-json-schema", VERSION, "_definitions.json")
    with open(base) as handle:
        definitions = json.load(handle)["$defs"]
    wanted = set()
    pending = ROOTS + [root + "List" for root in ROOTS] + EXTRA
    while pending:
        name = pending.pop()
        if name in wanted:
            continue
        wanted.add(name)
        found = set()
        references(definitions[name], found)
        pending.extend(found - wanted)
    table = {}
    for name in sorted(wanted):
        if name == INT_OR_STRING:
            table[name] = {"format": "int-or-string", "type": "string", "x-kubernetes-int-or-string": True}
            continue
        if name == QUANTITY:
            table[name] = {"format": "quantity", "type": "string"}
            continue
        schema = convert(definitions[name], top=True)
        if name in FREE_FORM:
            schema["x-kubernetes-preserve-unknown-fields"] = True
        gvks = schema.get("x-kubernetes-group-version-kind") or []
        if len(gvks) == 1 and gvks[0]["kind"] in DESCRIPTIONS and name.endswith("." + gvks[0]["kind"]):
            schema = {"description": DESCRIPTIONS[gvks[0]["kind"]], **schema}
        table[name] = schema
    lines = [json.dumps(name) + ": " + json.dumps(schema, separators=(",", ":"), sort_keys=False) for name, schema in table.items()]
    body = ",\n".join(lines)
    if '"#' in body.replace('"#/components', ""):
        sys.exit("a schema contains the raw-string delimiter")
    target = os.path.join(os.path.dirname(__file__), "..", "Sources", "BerthKubeAPI", "KubeSchemaTable.swift")
    with open(target, "w") as handle:
        handle.write("// Generated by scripts/kube-schema-gen.py from the interface facts of Kubernetes 1.32's types\n")
        handle.write("// (names, types, formats, required fields, patch and list metadata); do not edit by hand.\n\n")
        handle.write("extension KubeSchema {\n")
        handle.write("    /// Every schema of the served kinds and what they reach, by definition name, in OpenAPI v3 form.\n")
        handle.write("    static let tableSource = ##\"\"\"\n{\n")
        handle.write(body)
        handle.write("\n}\n\"\"\"##\n}\n")
    print(f"{len(table)} schemas, {len(body)} bytes")


if __name__ == "__main__":
    main()
