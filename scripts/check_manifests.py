#!/usr/bin/env python3
"""Static checks for everything tenantgate ships: the kustomizations under manifests/, the Helm
chart (scripts/check_chart.py) and the Dockerfile. Run through scripts/check-manifests.sh.

Every kustomization (not the components) is rendered with `kubectl kustomize` and its output
checked: the tenantgate Deployment (one container, args, probes, security context, config mount,
resources), the objects around it (Service, NetworkPolicy, ServiceMonitor, PDB, RBAC), the stack's
tenant isolation (Prometheus enforcedNamespaceLabel, ValidatingAdmissionPolicy, NetworkPolicies)
and the tenant's datasource. With TG_BIN set to a built tenantgate, the Deployment's args and its
ConfigMap's config.yaml are also handed to `tenantgate check-config`, and the image's root
filesystem (scripts/image-rootfs.sh) is tried with chroot when running as root.

Prints one line per check and ends with `manifests: N passed, M failed[, K skipped]`; exits 1 when
any check failed. Needs python3 with PyYAML (Debian: python3-yaml) and kubectl.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

try:
    import yaml
except ImportError:  # pragma: no cover
    print("check-manifests: needs PyYAML (Debian package python3-yaml)", file=sys.stderr)
    sys.exit(2)

# CHECK_MANIFESTS_ROOT: check another copy of the tree (used by the self-test).
ROOT = os.environ.get("CHECK_MANIFESTS_ROOT") or os.path.dirname(
    os.path.dirname(os.path.abspath(__file__)))
MANIFESTS = os.path.join(ROOT, "manifests")
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_chart  # noqa: E402
import check_helm  # noqa: E402

# The two-sidecar stack's kube-rbac-proxy config.yaml (README: "the two-sidecar stack"; SEED_CONFIG
# and seed_config name it), which manifests/base must carry verbatim.
SEED_CONFIG = """authorization:
  rewrites:
    byQueryParameter:
      name: "namespace"
  resourceAttributes:
    apiVersion: v1
    resource: namespace
    subresource: metrics
    namespace: "{{ .Value }}"
"""

# Ports (Dockerfile EXPOSE, manifests, chart defaults).
PORT_TLS, PORT_PLAIN, PORT_ENDPOINTS = 8443, 8080, 9091

# tenantgate's flags: name -> takes a value. Both anchors' spellings plus ours.
FLAGS = {
    # kube-rbac-proxy
    "secure-listen-address": True, "insecure-listen-address": True, "upstream": True,
    "config-file": True, "tls-cert-file": True, "tls-private-key-file": True,
    "tls-min-version": True, "tls-cipher-suites": True, "client-ca-file": True,
    "upstream-ca-file": True, "upstream-client-cert-file": True,
    "upstream-client-key-file": True, "proxy-endpoints-port": True, "kubeconfig": True,
    "auth-token-audiences": True, "logtostderr": False, "v": True,
    "oidc-issuer": True, "oidc-clientID": True, "oidc-username-claim": True,
    "oidc-username-prefix": True, "oidc-groups-claim": True, "oidc-groups-prefix": True,
    "oidc-sign-alg": True, "oidc-ca-file": True, "auth-header-fields-enabled": False,
    "auth-header-user-field-name": True, "auth-header-groups-field-name": True,
    "auth-header-groups-field-separator": True,
    # prom-label-proxy
    "label": True, "query-param": True, "header-name": True, "label-value": True,
    "enable-label-apis": False, "error-on-replace": False, "internal-listen-address": True,
    # ours
    "token-auth-file": True, "upstream-timeout": True, "version": False, "help": False,
    "alertmanager-upstream": True, "alertmanager-upstream-ca-file": True,
    "alertmanager-upstream-client-cert-file": True, "alertmanager-upstream-client-key-file": True,
}
REPEATABLE = {"label-value", "auth-token-audiences", "oidc-sign-alg"}
FILE_FLAGS = ["config-file", "tls-cert-file", "tls-private-key-file", "client-ca-file",
              "upstream-ca-file", "upstream-client-cert-file", "upstream-client-key-file",
              "token-auth-file", "kubeconfig", "oidc-ca-file", "alertmanager-upstream-ca-file",
              "alertmanager-upstream-client-cert-file", "alertmanager-upstream-client-key-file"]

# Kustomizations meant to be applied (or referenced) as they are; the others (stack/thanos, ...)
# are pieces of these and only get object-level checks on their own.
COMPLETE = {"manifests/base", "manifests/stack", "manifests/tenant",
            "manifests/examples/monitoring", "manifests/examples/tenant",
            "manifests/examples/oidc", "manifests/examples/alertmanager"}


class Results:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print(f"ok    {name}")
        else:
            self.failed += 1
            print(f"FAIL  {name}" + (f": {detail}" if detail else ""))
        return ok

    def skip(self, name, why):
        self.skipped += 1
        print(f"skip  {name}: {why}")


R = Results()


# ---------------------------------------------------------------------------------------------
# helpers

def mem_bytes(q):
    """Kubernetes memory quantity -> bytes (None if unparsable)."""
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([KMGT]i?|[kmgt]|)", str(q))
    if not m:
        return None
    mult = {"": 1, "k": 1e3, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
            "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}[m.group(2)]
    return int(float(m.group(1)) * mult)


def parse_args(args):
    """tenantgate args -> (list of (flag, value), errors). Accepts -f/--f, =value or next arg."""
    out, errs, i = [], [], 0
    while i < len(args):
        a = str(args[i])
        m = re.fullmatch(r"--?([a-z][a-zA-Z0-9-]*)(?:=(.*))?", a, re.S)
        if not m:
            errs.append(f"not a flag: {a!r}")
            i += 1
            continue
        name, val = m.group(1), m.group(2)
        if name not in FLAGS:
            errs.append(f"unknown flag --{name}")
        elif FLAGS[name] and val is None:
            if i + 1 < len(args) and not str(args[i + 1]).startswith("-"):
                val = str(args[i + 1])
                i += 1
            else:
                errs.append(f"--{name} needs a value")
        elif not FLAGS[name] and val is not None and val not in ("true", "false"):
            errs.append(f"--{name} is boolean, got {val!r}")
        if name in FLAGS and name not in REPEATABLE and any(f == name for f, _ in out):
            errs.append(f"--{name} given twice")
        out.append((name, val))
        i += 1
    return out, errs


def listen_port(addr):
    m = re.fullmatch(r"(?:\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]*):(\d{1,5})", addr or "")
    return int(m.group(1)) if m else None


def selector_matches(selector, labels):
    """matchLabels/matchExpressions (or a plain map for Services) against labels."""
    if selector is None:
        return False
    if "matchLabels" in selector or "matchExpressions" in selector:
        ml, me = selector.get("matchLabels") or {}, selector.get("matchExpressions") or []
    else:
        ml, me = selector, []
    if any(labels.get(k) != v for k, v in ml.items()):
        return False
    for e in me:
        k, op, vals = e["key"], e["operator"], e.get("values") or []
        if op == "In" and labels.get(k) not in vals:
            return False
        if op == "NotIn" and labels.get(k) in vals:
            return False
        if op == "Exists" and k not in labels:
            return False
        if op == "DoesNotExist" and k in labels:
            return False
    return True


class Render:
    """One rendered kustomization or Helm chart. `external`: ConfigMaps the render refers to but
    expects to exist already (a chart's config.existingConfigMap), name -> stand-in data."""

    def __init__(self, name, docs, external=None):
        self.name = name
        self.docs = [d for d in docs if d]
        self.external = external or {}

    def of(self, kind):
        return [d for d in self.docs if d.get("kind") == kind]

    def get(self, kind, name):
        for d in self.of(kind):
            if d["metadata"]["name"] == name:
                return d
        return None

    def pods(self):
        """(owner name, pod template labels, pod spec) of every workload, plus the pods the
        Prometheus Operator makes for each Prometheus resource (labels only)."""
        out = []
        for kind in ("Deployment", "StatefulSet", "DaemonSet"):
            for d in self.of(kind):
                t = d["spec"]["template"]
                out.append((d["metadata"]["name"], t["metadata"].get("labels") or {}, t["spec"]))
        for p in self.of("Prometheus"):
            n = p["metadata"]["name"]
            labels = {"app.kubernetes.io/name": "prometheus", "prometheus": n,
                      "app.kubernetes.io/instance": n, "operator.prometheus.io/name": n,
                      "app.kubernetes.io/managed-by": "prometheus-operator"}
            ports = [{"name": "web", "containerPort": 9090}]
            if p["spec"].get("thanos") is not None:
                ports += [{"name": "grpc", "containerPort": 10901},
                          {"name": "http", "containerPort": 10902}]
            out.append((f"prometheus/{n}", labels, {"containers": [{"ports": ports}]}))
        return out

    def pods_matching(self, selector):
        return [p for p in self.pods() if selector_matches(selector, p[1])]


def container_port_names(spec):
    return {p.get("name"): p["containerPort"] for c in spec.get("containers", [])
            for p in c.get("ports") or [] if p.get("name")}


def kustomize(path):
    p = subprocess.run(["kubectl", "kustomize", path], capture_output=True, text=True)
    if p.returncode != 0:
        return None, p.stderr.strip()
    return list(yaml.safe_load_all(p.stdout)), ""


def find_kustomizations():
    out = []
    for dirpath, dirnames, files in os.walk(MANIFESTS):
        dirnames[:] = sorted(d for d in dirnames if d != "helm")
        if "kustomization.yaml" in files:
            with open(os.path.join(dirpath, "kustomization.yaml")) as f:
                k = yaml.safe_load(f) or {}
            if k.get("kind") == "Component":
                continue
            out.append(os.path.relpath(dirpath, ROOT))
    return out


def is_tenantgate(dep):
    cs = dep["spec"]["template"]["spec"].get("containers") or []
    return dep["metadata"]["name"] == "tenantgate" or any(
        c.get("name") == "tenantgate" or "tenantgate" in str(c.get("image", "")) for c in cs)


def sar_resource(config_text):
    """The (apiGroup, "resource[/subresource]") that tenantgate's SubjectAccessReview names with
    this config file (authorization.resourceAttributes), and "" ; or (None, why not)."""
    try:
        cfg = yaml.safe_load(config_text) or {}
    except yaml.YAMLError as e:
        return None, f"config does not parse: {e}"
    ra = ((cfg.get("authorization") or {}).get("resourceAttributes") or {})
    if not ra.get("resource"):
        return None, "config has no authorization.resourceAttributes.resource"
    group = str(ra.get("apiGroup") or "")
    res = str(ra["resource"]) + (f"/{ra['subresource']}" if ra.get("subresource") else "")
    if "{{" in group + res:
        return None, f"resourceAttributes names a templated resource ({group}/{res})"
    return (group, res), ""


def rbac_allows(rules, group, resource, verb="get"):
    """Whether RBAC rules grant verb on group/resource (resource may be "name/subresource"),
    with Kubernetes' wildcards: "*" for groups, verbs and resources, "*/subresource"."""
    sub = resource.split("/", 1)[1] if "/" in resource else None
    for rule in rules or []:
        groups, verbs = rule.get("apiGroups") or [], rule.get("verbs") or []
        resources = rule.get("resources") or []
        if not (group in groups or "*" in groups) or not (verb in verbs or "*" in verbs):
            continue
        if "*" in resources or resource in resources or (sub and f"*/{sub}" in resources):
            return True
    return False


# ---------------------------------------------------------------------------------------------
# generic checks of one render

def check_generic(r, complete=True):
    """Object-level checks always; cross-reference checks (selectors, ports, RBAC subjects) only
    for complete kustomizations, not for the pieces a complete one is assembled from."""
    n = r.name
    bad = [d for d in r.docs if not (d.get("apiVersion") and d.get("kind")
                                     and (d.get("metadata") or {}).get("name"))]
    R.check(f"{n}: every object has apiVersion, kind, metadata.name", not bad, str(bad[:1]))
    seen, dups = set(), []
    for d in r.docs:
        key = (d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"])
        if key in seen:
            dups.append(key)
        seen.add(key)
    R.check(f"{n}: no duplicate objects", not dups, str(dups))
    if not complete:
        return

    namespaces = {d["metadata"].get("namespace") for d in r.docs
                  if d["kind"] not in ("ClusterRole", "ClusterRoleBinding",
                                       "ValidatingAdmissionPolicy",
                                       "ValidatingAdmissionPolicyBinding")}
    # (Cluster)RoleBinding subjects: no hard-coded namespace in a render without one (so the
    # including kustomization's `namespace:` fills it in), the SA's namespace in one with it.
    for b in r.of("RoleBinding") + r.of("ClusterRoleBinding"):
        for s in b.get("subjects") or []:
            if s.get("kind") != "ServiceAccount":
                continue
            sa = r.get("ServiceAccount", s["name"])
            want = sa["metadata"].get("namespace") if sa else None
            if sa is None:
                R.check(f"{n}: {b['kind']} {b['metadata']['name']} subject {s['name']} is a "
                        "ServiceAccount of this kustomization", False)
            else:
                R.check(f"{n}: {b['kind']} {b['metadata']['name']} subject namespace follows "
                        f"the kustomization ({want or 'unset'})", s.get("namespace") == want,
                        f"subject has {s.get('namespace')!r}")
        ref = b["roleRef"]
        if ref["kind"] == "Role" or (ref["kind"] == "ClusterRole"
                                     and not ref["name"].startswith("system:")):
            R.check(f"{n}: {b['kind']} {b['metadata']['name']} roleRef {ref['kind']} "
                    f"{ref['name']} exists", r.get(ref["kind"], ref["name"]) is not None)

    for s in r.of("Service"):
        sel = s["spec"].get("selector")
        pods = r.pods_matching(sel)
        if not R.check(f"{n}: Service {s['metadata']['name']} selects pods of this "
                       "kustomization", bool(pods), f"selector {sel}"):
            continue
        names = {}
        for _, _, spec in pods:
            names.update(container_port_names(spec))
        for p in s["spec"]["ports"]:
            tp = p.get("targetPort", p["port"])
            ok = tp in names if isinstance(tp, str) else tp in names.values()
            R.check(f"{n}: Service {s['metadata']['name']} port {p.get('name')} targets a "
                    f"container port ({tp})", ok)

    for sm in r.of("ServiceMonitor"):
        sel = sm["spec"]["selector"]
        if sel.get("matchLabels") == {"operated-prometheus": "true"}:
            R.check(f"{n}: ServiceMonitor {sm['metadata']['name']} scrapes the operator's "
                    "prometheus-operated Service", bool(r.of("Prometheus")))
            continue
        svcs = [s for s in r.of("Service")
                if selector_matches(sel, s["metadata"].get("labels") or {})]
        if not R.check(f"{n}: ServiceMonitor {sm['metadata']['name']} selects a Service",
                       bool(svcs), f"selector {sel}"):
            continue
        ports = {p.get("name") for s in svcs for p in s["spec"]["ports"]}
        for e in sm["spec"]["endpoints"]:
            R.check(f"{n}: ServiceMonitor {sm['metadata']['name']} endpoint port "
                    f"{e.get('port')} exists on the Service", e.get("port") in ports)

    for np_ in r.of("NetworkPolicy"):
        pods = r.pods_matching(np_["spec"]["podSelector"])
        if not R.check(f"{n}: NetworkPolicy {np_['metadata']['name']} selects pods",
                       bool(pods)):
            continue
        names = {}
        for _, _, spec in pods:
            names.update(container_port_names(spec))
        for rule in np_["spec"].get("ingress") or []:
            for p in rule.get("ports") or []:
                if isinstance(p.get("port"), str):
                    R.check(f"{n}: NetworkPolicy {np_['metadata']['name']} named port "
                            f"{p['port']} exists", p["port"] in names)

    for pdb in r.of("PodDisruptionBudget"):
        R.check(f"{n}: PodDisruptionBudget {pdb['metadata']['name']} selects pods",
                bool(r.pods_matching(pdb["spec"]["selector"])))

    cms = {c["metadata"]["name"] for c in r.of("ConfigMap")} | set(r.external)
    for owner, _, spec in r.pods():
        for v in spec.get("volumes") or []:
            if "configMap" in v and not v["configMap"].get("optional"):
                R.check(f"{n}: {owner} volume {v['name']} ConfigMap "
                        f"{v['configMap']['name']} exists", v["configMap"]["name"] in cms)
    return namespaces


# ---------------------------------------------------------------------------------------------
# the tenantgate Deployment

def effective_sc(pod_spec, c):
    sc = dict(pod_spec.get("securityContext") or {})
    sc.pop("fsGroup", None)
    sc.update(c.get("securityContext") or {})
    return sc


def check_security(prefix, sc):
    R.check(f"{prefix}: runAsNonRoot", sc.get("runAsNonRoot") is True)
    R.check(f"{prefix}: runAsUser is not root", sc.get("runAsUser", 65534) != 0)
    R.check(f"{prefix}: readOnlyRootFilesystem", sc.get("readOnlyRootFilesystem") is True)
    R.check(f"{prefix}: allowPrivilegeEscalation false",
            sc.get("allowPrivilegeEscalation") is False)
    R.check(f"{prefix}: capabilities drop ALL",
            "ALL" in ((sc.get("capabilities") or {}).get("drop") or []))
    R.check(f"{prefix}: seccompProfile RuntimeDefault",
            (sc.get("seccompProfile") or {}).get("type") == "RuntimeDefault")


def check_resources(prefix, res):
    req, lim = res.get("requests") or {}, res.get("limits") or {}
    R.check(f"{prefix}: cpu and memory requests set", "cpu" in req and "memory" in req)
    R.check(f"{prefix}: memory request sized small (<= 64Mi)",
            (mem_bytes(req.get("memory")) or 1 << 40) <= 64 * 2**20, str(req.get("memory")))
    R.check(f"{prefix}: memory limit set and <= 256Mi",
            (mem_bytes(lim.get("memory")) or 1 << 40) <= 256 * 2**20, str(lim.get("memory")))


def mounted_file(spec, c, path):
    """The volume (and path inside it) a file path of the container lives in, or (None, None)."""
    best = None
    for m in c.get("volumeMounts") or []:
        mp = m["mountPath"].rstrip("/") + "/"
        if path.startswith(mp) and (best is None or len(mp) > len(best[0])):
            best = (mp, m)
    if not best:
        return None, None
    vol = next((v for v in spec.get("volumes") or [] if v["name"] == best[1]["name"]), None)
    return vol, path[len(best[0]):]


def check_tenantgate(r, dep, seed_config):
    n = f"{r.name}: Deployment {dep['metadata']['name']}"
    spec = dep["spec"]["template"]["spec"]
    cs = spec.get("containers") or []
    R.check(f"{n}: exactly one container", len(cs) == 1, f"{len(cs)} containers")
    R.check(f"{n}: no init containers", not spec.get("initContainers"))
    if not cs:
        return None
    c = cs[0]
    image = str(c.get("image", ""))
    R.check(f"{n}: image pinned to a tag or digest",
            bool(re.search(r"(:[\w.-]+|@sha256:[0-9a-f]{64})$", image))
            and not image.endswith(":latest"), image)
    R.check(f"{n}: no command override (entrypoint is tenantgate)", not c.get("command"))

    args = [str(a) for a in c.get("args") or []]
    flags, errs = parse_args(args)
    R.check(f"{n}: args are known tenantgate flags", not errs, "; ".join(errs))
    fl = {}
    for f, v in flags:
        fl.setdefault(f, v)
    for req in ("upstream", "config-file", "internal-listen-address"):
        R.check(f"{n}: --{req} given", fl.get(req) is not None)
    R.check(f"{n}: a proxy listener given",
            fl.get("secure-listen-address") is not None
            or fl.get("insecure-listen-address") is not None)
    R.check(f"{n}: --upstream is an http(s) URL",
            bool(re.fullmatch(r"https?://[^/\s]+(/\S*)?", fl.get("upstream") or "")),
            str(fl.get("upstream")))
    R.check(f"{n}: --tls-cert-file and --tls-private-key-file come together",
            ("tls-cert-file" in fl) == ("tls-private-key-file" in fl))

    ports = {p.get("name"): p["containerPort"] for p in c.get("ports") or []}
    sec = listen_port(fl.get("secure-listen-address"))
    internal = listen_port(fl.get("internal-listen-address"))
    R.check(f"{n}: containerPort https = --secure-listen-address port ({sec})",
            sec is not None and ports.get("https") == sec, str(ports))
    R.check(f"{n}: containerPort metrics = --internal-listen-address port ({internal})",
            internal is not None and ports.get("metrics") == internal, str(ports))
    R.check(f"{n}: default ports ({PORT_TLS} proxy, {PORT_ENDPOINTS} endpoints)",
            sec == PORT_TLS and internal == PORT_ENDPOINTS)

    for kind, path in (("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")):
        hg = (c.get(kind) or {}).get("httpGet") or {}
        port = hg.get("port")
        port = ports.get(port) if isinstance(port, str) else port
        R.check(f"{n}: {kind} GET {path} on the endpoints port",
                hg.get("path") == path and port == internal and hg.get("scheme", "HTTP") == "HTTP",
                str(hg))

    check_security(f"{n}: securityContext", effective_sc(spec, c))
    check_resources(f"{n}: resources", c.get("resources") or {})
    R.check(f"{n}: service account token mounted (TokenReview/SAR)",
            spec.get("automountServiceAccountToken", True) is not False)

    # config mounted from a ConfigMap of this render, with the key --config-file names
    config_text = None
    vol, key = mounted_file(spec, c, fl.get("config-file") or "")
    cm = None
    if vol and "configMap" in vol:
        cm_name = vol["configMap"]["name"]
        cm = r.get("ConfigMap", cm_name) or (
            {"data": r.external[cm_name]} if cm_name in r.external else None)
    if R.check(f"{n}: --config-file is mounted from a ConfigMap of this kustomization",
               cm is not None and key in (cm.get("data") or {}), str(fl.get("config-file"))):
        config_text = cm["data"][key]
        try:
            cfg = yaml.safe_load(config_text) or {}
        except yaml.YAMLError as e:
            cfg = None
            R.check(f"{n}: config.yaml parses", False, str(e))
        if cfg is not None:
            ra = (cfg.get("authorization") or {}).get("resourceAttributes") or {}
            R.check(f"{n}: config.yaml has authorization.resourceAttributes",
                    bool(ra.get("resource")))
            rw = ((cfg.get("authorization") or {}).get("rewrites") or {})
            qp = (rw.get("byQueryParameter") or {}).get("name")
            R.check(f"{n}: config.yaml takes the tenant from the `{fl.get('label')}` query "
                    "parameter", qp == (fl.get("label") or "namespace"), str(qp))
        if seed_config:
            R.check(f"{n}: config.yaml is the two-sidecar stack's kube-rbac-proxy config, verbatim",
                    config_text == SEED_CONFIG, repr(config_text))
    for f in FILE_FLAGS[1:]:
        if fl.get(f):
            v, _ = mounted_file(spec, c, fl[f])
            R.check(f"{n}: --{f} is on a mounted volume", v is not None, fl[f])

    return {"args": args, "flags": fl, "config": config_text, "spec": spec, "container": c,
            "sec": sec, "internal": internal}


# What the objects around the tenantgate Deployment must be. A kustomization ships them all; a
# chart render ships what its values switch on (check_helm.py), and none of what they switch off.
AROUND_ALL = {"ServiceAccount": True, "auth-delegator": True, "NetworkPolicy": True,
              "ServiceMonitor": True, "PodDisruptionBudget": True}


def check_around(r, dep, info, expect=AROUND_ALL):
    n = f"{r.name}: Deployment {dep['metadata']['name']}"
    spec, sec, internal = info["spec"], info["sec"], info["internal"]
    labels = dep["spec"]["template"]["metadata"].get("labels") or {}
    sa = spec.get("serviceAccountName", "default")
    if expect["ServiceAccount"]:
        R.check(f"{n}: ServiceAccount {sa} is part of this kustomization",
                r.get("ServiceAccount", sa) is not None)
    else:
        R.check(f"{n}: ServiceAccount {sa} is not created (it exists already)",
                not r.of("ServiceAccount"))
    delegator = any(b["roleRef"]["name"] == "system:auth-delegator"
                    and any(s.get("kind") == "ServiceAccount" and s["name"] == sa
                            for s in b.get("subjects") or [])
                    for b in r.of("ClusterRoleBinding"))
    if expect["auth-delegator"]:
        R.check(f"{n}: ServiceAccount bound to system:auth-delegator", delegator)
    else:
        R.check(f"{n}: no RBAC objects made (rbac.create off)",
                not r.of("ClusterRoleBinding") and not r.of("ClusterRole"))
    svcs = [s for s in r.of("Service") if selector_matches(s["spec"].get("selector"), labels)]
    R.check(f"{n}: a Service exposes the TLS proxy port",
            any(p.get("targetPort") in ("https", sec) for s in svcs for p in s["spec"]["ports"]))
    nps = [p for p in r.of("NetworkPolicy") if selector_matches(p["spec"]["podSelector"], labels)]
    if not expect["NetworkPolicy"]:
        R.check(f"{n}: no NetworkPolicy (switched off)", not nps)
    else:
        check_networkpolicy(n, nps, sec, internal, expect.get("proxyFrom"))
    sms = [sm for sm in r.of("ServiceMonitor")
           if any(selector_matches(sm["spec"]["selector"], s["metadata"].get("labels") or {})
                  for s in svcs)]
    if not expect["ServiceMonitor"]:
        R.check(f"{n}: no ServiceMonitor (switched off)", not r.of("ServiceMonitor"))
    else:
        R.check(f"{n}: ServiceMonitor scrapes /metrics on the endpoints port",
                any(any(e.get("port") == "metrics" and e.get("path", "/metrics") == "/metrics"
                        for e in sm["spec"]["endpoints"]) for sm in sms))
    pdbs = [p for p in r.of("PodDisruptionBudget")
            if selector_matches(p["spec"]["selector"], labels)]
    if not expect["PodDisruptionBudget"]:
        R.check(f"{n}: no PodDisruptionBudget (switched off)", not r.of("PodDisruptionBudget"))
    else:
        R.check(f"{n}: PodDisruptionBudget covers it", bool(pdbs))


def check_networkpolicy(n, nps, sec, internal, proxy_from=None):
    """proxy_from: the peers the proxy port is limited to (a chart's networkPolicy.proxyFrom);
    None: open to everyone (tenantgate authenticates every request)."""
    proxy_open = any((rule.get("from") or None) == proxy_from
                     and any(p.get("port") in ("https", sec) for p in rule.get("ports") or [])
                     for p in nps for rule in p["spec"].get("ingress") or [])
    R.check(f"{n}: NetworkPolicy opens the proxy port"
            + (f" to {proxy_from}" if proxy_from else ""), proxy_open)
    only_ports = all(rule.get("ports") for p in nps for rule in p["spec"].get("ingress") or [])
    R.check(f"{n}: NetworkPolicy allows nothing but named ports", bool(nps) and only_ports)
    metrics_rule = any(rule.get("from") and any(p.get("port") in ("metrics", internal)
                                                for p in rule.get("ports") or [])
                       for p in nps for rule in p["spec"].get("ingress") or [])
    R.check(f"{n}: NetworkPolicy lets Prometheus reach the endpoints port (from a selector)",
            metrics_rule)


def check_config_with_binary(rname, info, tmp):
    """TG_BIN check-config <args> with the files the args name extracted into tmp."""
    tg = os.environ.get("TG_BIN")
    name = f"{rname}: tenantgate check-config accepts the Deployment's args and config"
    if not tg:
        R.skip(name, "TG_BIN is not set (point it at a built tenantgate to run check-config)")
        return
    if not os.access(tg, os.X_OK):
        R.check(name, False, f"TG_BIN={tg} is not executable")
        return
    d = tempfile.mkdtemp(dir=tmp)
    cert = key = None
    args = []
    for a in info["args"]:
        m = re.fullmatch(r"(--?)([a-z-]+)=(.*)", a)
        if m and m.group(2) in FILE_FLAGS and m.group(2) != "kubeconfig":
            flag, path = m.group(2), m.group(3)
            local = os.path.join(d, os.path.basename(path) or flag)
            if flag == "config-file":
                with open(local, "w") as f:
                    f.write(info["config"])
            elif flag in ("tls-cert-file", "tls-private-key-file", "client-ca-file",
                          "upstream-ca-file", "upstream-client-cert-file",
                          "upstream-client-key-file", "oidc-ca-file",
                          "alertmanager-upstream-ca-file",
                          "alertmanager-upstream-client-cert-file",
                          "alertmanager-upstream-client-key-file"):
                # one self-signed stand-in serves as certificate, key and CA bundle
                if cert is None:
                    cert, key = os.path.join(d, "tls.crt"), os.path.join(d, "tls.key")
                    p = subprocess.run(
                        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                         "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj",
                         "/CN=tenantgate", "-keyout", key, "-out", cert],
                        capture_output=True, text=True)
                    if p.returncode != 0:
                        R.skip(name, "openssl could not make a stand-in certificate")
                        return
                local = key if flag.endswith("key-file") else cert
            else:
                R.skip(name, f"--{flag} names a file that is not part of the manifests")
                return
            a = f"{m.group(1)}{flag}={local}"
        args.append(a)
    # the Deployment runs in a cluster: give check-config the environment and
    # service-account files a pod has (with stand-in contents)
    sa = os.path.join(d, "serviceaccount")
    os.makedirs(sa, exist_ok=True)
    with open(os.path.join(sa, "token"), "w") as f:
        f.write("stand-in-token\n")
    with open(os.path.join(sa, "namespace"), "w") as f:
        f.write("monitoring\n")
    env = dict(os.environ, KUBERNETES_SERVICE_HOST="10.96.0.1", KUBERNETES_SERVICE_PORT="443",
               TG_SA_DIR=sa)
    p = subprocess.run([tg, "check-config"] + args, capture_output=True, text=True, timeout=60,
                       env=env)
    R.check(name, p.returncode == 0,
            f"exit {p.returncode}: {(p.stderr or p.stdout).strip()[:500]}")


# ---------------------------------------------------------------------------------------------
# the stack: isolation around Prometheus and Thanos

def check_stack(r, tg):
    n = r.name
    for p in r.of("Prometheus"):
        s = p["spec"]
        pn = f"{n}: Prometheus {p['metadata']['name']}"
        label = (tg or {}).get("flags", {}).get("label") or "namespace"
        R.check(f"{pn}: enforcedNamespaceLabel = tenantgate's --label ({label})",
                s.get("enforcedNamespaceLabel") == label, str(s.get("enforcedNamespaceLabel")))
        R.check(f"{pn}: overrideHonorLabels", s.get("overrideHonorLabels") is True)
        R.check(f"{pn}: ignoreNamespaceSelectors", s.get("ignoreNamespaceSelectors") is True)
        R.check(f"{pn}: arbitraryFSAccessThroughSMs denied",
                (s.get("arbitraryFSAccessThroughSMs") or {}).get("deny") is True)
        osc = (s.get("thanos") or {}).get("objectStorageConfig") or {}
        R.check(f"{pn}: Thanos sidecar with objectStorageConfig thanos-objstore-secret",
                osc.get("name") == "thanos-objstore-secret" and osc.get("key") == "thanos.yaml")
        R.check(f"{pn}: ServiceAccount {s.get('serviceAccountName')} exists",
                r.get("ServiceAccount", s.get("serviceAccountName")) is not None)

    if tg:
        up = re.match(r"https?://([^/:]+)(?::(\d+))?", tg["flags"].get("upstream") or "")
        host, port = (up.group(1), int(up.group(2) or 80)) if up else (None, None)
        svc = r.get("Service", host)
        R.check(f"{n}: tenantgate's upstream {host}:{port} is a Service of the stack",
                svc is not None and any(p["port"] == port for p in svc["spec"]["ports"]))

    # Tenants must reach Prometheus, the sidecar and Thanos only through tenantgate: every such
    # pod is selected by a NetworkPolicy whose ingress peers are all pods of this namespace.
    def same_ns_only(pod_labels):
        nps = [p for p in r.of("NetworkPolicy")
               if selector_matches(p["spec"]["podSelector"], pod_labels)]
        if not nps or any("Ingress" not in (p["spec"].get("policyTypes") or ["Ingress"])
                          for p in nps):
            return False
        for p in nps:
            for rule in p["spec"].get("ingress") or []:
                peers = rule.get("from")
                if not peers or any("namespaceSelector" in x or "ipBlock" in x for x in peers):
                    return False
        return True

    for owner, labels, _ in r.pods():
        if owner.startswith("prometheus/") or labels.get("app.kubernetes.io/part-of") == "thanos":
            R.check(f"{n}: {owner} only reachable from its own namespace (NetworkPolicy)",
                    same_ns_only(labels))

    vaps = [v for v in r.of("ValidatingAdmissionPolicy")]
    R.check(f"{n}: a ValidatingAdmissionPolicy guards ServiceMonitors/PodMonitors", bool(vaps))
    for v in vaps:
        vn = f"{n}: ValidatingAdmissionPolicy {v['metadata']['name']}"
        R.check(f"{vn}: admissionregistration.k8s.io/v1",
                v["apiVersion"] == "admissionregistration.k8s.io/v1")
        rules = v["spec"]["matchConstraints"]["resourceRules"]
        res = {x for rr in rules for x in rr.get("resources") or []}
        groups = {x for rr in rules for x in rr.get("apiGroups") or []}
        ops = {x for rr in rules for x in rr.get("operations") or []}
        R.check(f"{vn}: matches servicemonitors and podmonitors on CREATE and UPDATE",
                {"servicemonitors", "podmonitors"} <= res and "monitoring.coreos.com" in groups
                and {"CREATE", "UPDATE"} <= ops)
        exprs = " ".join(x["expression"] for x in v["spec"].get("validations") or [])
        exprs += " ".join(x["expression"] for x in v["spec"].get("variables") or [])
        for needle in ("honorLabels", "relabelings", "metricRelabelings", "targetLabel",
                       "'namespace'", "podMetricsEndpoints", "endpoints"):
            R.check(f"{vn}: validations look at {needle}", needle in exprs)
        R.check(f"{vn}: failurePolicy Fail", v["spec"].get("failurePolicy", "Fail") == "Fail")
        binds = [b for b in r.of("ValidatingAdmissionPolicyBinding")
                 if b["spec"]["policyName"] == v["metadata"]["name"]]
        R.check(f"{vn}: bound with validationActions Deny",
                any("Deny" in b["spec"].get("validationActions", []) for b in binds))


# ---------------------------------------------------------------------------------------------
# the tenant's objects

def check_tenant(r, required):
    """required: {(apiGroup, resource): where it comes from}, what the shipped configs' SARs ask."""
    n = r.name
    for ds in r.of("GrafanaDatasource"):
        dn = f"{n}: GrafanaDatasource {ds['metadata']['name']}"
        R.check(f"{dn}: grafana.integreatly.org/v1beta1",
                ds["apiVersion"] == "grafana.integreatly.org/v1beta1")
        d = ds["spec"]["datasource"]
        jd, sj = d.get("jsonData") or {}, d.get("secureJsonData") or {}
        R.check(f"{dn}: httpMethod POST", jd.get("httpMethod") == "POST")
        cq = jd.get("customQueryParameters", "")
        m = re.search(r"(?:^|&)namespace=([^&]*)", cq)
        ns = ds["metadata"].get("namespace")
        R.check(f"{dn}: customQueryParameters namespace=<tenant namespace>",
                bool(m) and (ns is None or m.group(1) == ns), f"{cq!r} in namespace {ns}")
        R.check(f"{dn}: TLS verified with a CA, not tlsSkipVerify",
                not jd.get("tlsSkipVerify") and jd.get("tlsAuthWithCACert") is True
                and "tlsCACert" in sj)
        R.check(f"{dn}: URL is tenantgate's TLS port",
                re.match(rf"https://[^/]+:{PORT_TLS}/", d.get("url", "")) is not None,
                d.get("url"))
        R.check(f"{dn}: Authorization: Bearer header",
                jd.get("httpHeaderName1") == "Authorization"
                and str(sj.get("httpHeaderValue1", "")).startswith("Bearer ${"))
        refs = {v["targetPath"]: v["valueFrom"] for v in ds["spec"].get("valuesFrom") or []}
        tok = (refs.get("secureJsonData.httpHeaderValue1") or {}).get("secretKeyRef") or {}
        sec = r.get("Secret", tok.get("name"))
        R.check(f"{dn}: token from a service-account-token Secret of this kustomization",
                sec is not None and sec.get("type") == "kubernetes.io/service-account-token"
                and tok.get("key") == "token"
                and "${" + tok.get("key", "") + "}" in sj.get("httpHeaderValue1", ""))
        ca = refs.get("secureJsonData.tlsCACert") or {}
        ck = (ca.get("configMapKeyRef") or ca.get("secretKeyRef") or {}).get("key", "")
        R.check(f"{dn}: tlsCACert filled from valuesFrom",
                bool(ck) and "${" + ck + "}" in str(sj.get("tlsCACert", "")))
        if sec is None:
            continue
        sa_name = (sec["metadata"].get("annotations") or {}).get(
            "kubernetes.io/service-account.name")
        R.check(f"{dn}: token Secret belongs to a ServiceAccount of this kustomization",
                r.get("ServiceAccount", sa_name) is not None, str(sa_name))
        rules = []
        for b in r.of("RoleBinding"):
            if not any(s.get("kind") == "ServiceAccount" and s["name"] == sa_name
                       for s in b.get("subjects") or []):
                continue
            role = r.get(b["roleRef"]["kind"], b["roleRef"]["name"])
            rules += (role or {}).get("rules") or []
        check_tenant_rules(dn + ": its ServiceAccount", rules, required)


def check_tenant_rules(prefix, rules, required):
    """The tenant's (Cluster)Role grants get on what each config's SAR asks, and nothing else."""
    if not R.check(f"{prefix}: the SubjectAccessReview resource is known", bool(required)):
        return
    for (group, res), where in sorted(required.items()):
        R.check(f"{prefix} may get {res} (apiGroup \"{group}\"; resourceAttributes of {where})",
                rbac_allows(rules, group, res), str(rules))
    granted = [x for rule in rules for x in rule.get("resources") or []]
    R.check(f"{prefix}: and nothing but get on */metrics",
            all(g.endswith("/metrics") for g in granted)
            and all(rule.get("verbs") == ["get"] for rule in rules), str(rules))


# ---------------------------------------------------------------------------------------------
# Dockerfile and the image's root filesystem

def check_dockerfile(tmp):
    path = os.path.join(ROOT, "Dockerfile")
    if not R.check("Dockerfile exists", os.path.isfile(path)):
        return
    text = open(path).read()
    lines = [l.strip() for l in re.sub(r"\\\n", " ", text).splitlines()
             if l.strip() and not l.strip().startswith("#")]
    froms = [l for l in lines if l.upper().startswith("FROM ")]
    R.check("Dockerfile: multi-stage, build stage FROM debian:12",
            len(froms) >= 2 and re.match(r"FROM\s+debian:12(\s|$)", froms[0], re.I) is not None,
            str(froms))
    R.check("Dockerfile: runtime stage is minimal (scratch, distroless or debian:12-slim)",
            re.match(r"FROM\s+(scratch|\S*distroless\S*|debian:12-slim)(\s|$)", froms[-1], re.I)
            is not None, froms[-1] if froms else "")
    R.check("Dockerfile: builds with scripts/deps.sh build and scripts/build.sh",
            re.search(r"scripts/deps\.sh build", text) is not None
            and "scripts/build.sh" in text)
    final = lines[max(i for i, l in enumerate(lines) if l.upper().startswith("FROM ")):]
    users = [l for l in final if l.upper().startswith("USER ")]
    R.check("Dockerfile: runs as uid 65534",
            bool(users) and re.match(r"USER\s+65534(:65534)?$", users[-1]) is not None)
    exposed = {int(p) for l in final if l.upper().startswith("EXPOSE ")
               for p in re.findall(r"(\d+)(?:/tcp)?", l[7:])}
    R.check(f"Dockerfile: EXPOSE {PORT_TLS} {PORT_PLAIN} {PORT_ENDPOINTS}",
            exposed == {PORT_TLS, PORT_PLAIN, PORT_ENDPOINTS}, str(sorted(exposed)))
    ep = [l for l in final if l.upper().startswith("ENTRYPOINT")]
    R.check("Dockerfile: ENTRYPOINT is tenantgate (exec form)",
            bool(ep) and re.search(r'\[\s*"[^"]*tenantgate"', ep[-1]) is not None)
    R.check("Dockerfile: OCI labels", "org.opencontainers.image.title" in text
            and "org.opencontainers.image.version" in text)
    R.check(".dockerignore exists and keeps build dirs out",
            os.path.isfile(os.path.join(ROOT, ".dockerignore"))
            and "build*/" in open(os.path.join(ROOT, ".dockerignore")).read())

    name = "image root filesystem: tenantgate --version runs as 65534 in it (chroot)"
    tg = os.environ.get("TG_BIN")
    if not tg:
        R.skip(name, "TG_BIN is not set")
        return
    if os.geteuid() != 0 or not shutil.which("chroot"):
        R.skip(name, "needs root and chroot")
        return
    rootfs = os.path.join(tmp, "rootfs")
    p = subprocess.run(["bash", os.path.join(ROOT, "scripts/image-rootfs.sh"), tg, rootfs],
                       capture_output=True, text=True)
    if not R.check("image root filesystem: scripts/image-rootfs.sh", p.returncode == 0,
                   p.stderr.strip()[:300]):
        return
    p = subprocess.run(["chroot", "--userspec=65534:65534", rootfs,
                        "/usr/local/bin/tenantgate", "--version"],
                       capture_output=True, text=True, timeout=30)
    R.check(name, p.returncode == 0 and "tenantgate" in p.stdout,
            f"exit {p.returncode}: {p.stderr.strip()[:300]}")
    R.check("image root filesystem: no shell", not any(
        os.path.exists(os.path.join(rootfs, x)) for x in ("bin/sh", "usr/bin/sh", "bin/bash")))


# ---------------------------------------------------------------------------------------------

def main():
    if not shutil.which("kubectl"):
        print("check-manifests: kubectl not found", file=sys.stderr)
        return 2
    tmp = tempfile.mkdtemp(prefix="check-manifests.")
    try:
        renders = []
        for k in find_kustomizations():
            docs, err = kustomize(os.path.join(ROOT, k))
            if R.check(f"{k}: kubectl kustomize renders", docs is not None, err[:500]):
                renders.append(Render(k, docs))
        R.check("manifests: base, stack, tenant and the examples are all rendered",
                COMPLETE <= {r.name for r in renders}, str([r.name for r in renders]))
        required, tenant_renders = {}, []
        for r in renders:
            check_generic(r, complete=r.name in COMPLETE)
            if r.name not in COMPLETE:
                continue
            tg = None
            for dep in r.of("Deployment"):
                if is_tenantgate(dep):
                    # base carries that config verbatim; overlays inherit it
                    tg = check_tenantgate(r, dep, seed_config=True)
                    if tg:
                        check_around(r, dep, tg)
                    if tg and tg["config"] is not None:
                        res, why = sar_resource(tg["config"])
                        if R.check(f"{r.name}: the config's SubjectAccessReview resource is "
                                   "fixed (a tenant Role can grant it)", res is not None, why):
                            required.setdefault(res, r.name)
                    if tg and tg["config"] is not None:
                        check_config_with_binary(r.name, tg, tmp)
            if r.of("Prometheus") or r.of("ValidatingAdmissionPolicy"):
                check_stack(r, tg)
            if r.of("GrafanaDatasource"):
                tenant_renders.append(r)
            if r.name == "manifests/examples/monitoring":
                R.check(f"{r.name}: everything namespaced is in namespace monitoring",
                        all(d["metadata"].get("namespace") == "monitoring" for d in r.docs
                            if d["kind"] not in ("ClusterRole", "ClusterRoleBinding",
                                                 "ValidatingAdmissionPolicy",
                                                 "ValidatingAdmissionPolicyBinding")))
                R.check(f"{r.name}: cert-manager component mounts the serving certificate",
                        tg is not None and "tls-cert-file" in tg["flags"]
                        and r.get("Certificate", "tenantgate-tls") is not None)
            if r.name == "manifests/examples/alertmanager":
                am = (tg or {}).get("flags", {}).get("alertmanager-upstream") or ""
                R.check(f"{r.name}: the alertmanager component sends /api/v2/ to an Alertmanager",
                        bool(re.fullmatch(r"https?://[^/\s]+(/\S*)?", am)), am)
                role = r.get("ClusterRole", "tenantgate-alerts-editor")
                R.check(f"{r.name}: tenants get a role with the write verbs",
                        role is not None and all(
                            set(rule["verbs"]) >= {"get", "create", "update", "delete"}
                            for rule in role["rules"]))
        for r in tenant_renders:
            check_tenant(r, required)
        check_dockerfile(tmp)
        check_chart.run(R, os.path.join(MANIFESTS, "helm", "tenantgate"),
                        seed_config=SEED_CONFIG, check_security=check_security,
                        check_resources=check_resources,
                        ports=(PORT_TLS, PORT_PLAIN, PORT_ENDPOINTS), flags=FLAGS)
        helm = os.environ.get("HELM")
        if helm:
            check_helm.run(R, sys.modules[__name__], os.path.join(MANIFESTS, "helm", "tenantgate"),
                           helm, tmp)
        else:
            R.skip("chart with a real helm (lint --strict, template)",
                   "HELM is not set (scripts/check-manifests.sh fetches one)")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    line = f"manifests: {R.passed} passed, {R.failed} failed"
    if R.skipped:
        line += f", {R.skipped} skipped"
    print(line)
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
