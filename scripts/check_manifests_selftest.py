#!/usr/bin/env python3
"""Proves scripts/check_manifests.py fails when something it guards is broken: copies the tree
(manifests/, Dockerfile, .dockerignore, scripts/) to a temp dir once per mutation, breaks one
thing, runs the checker on the copy and expects exit 1 with the expected FAIL line.
    python3 scripts/check_manifests_selftest.py
With HELM set (scripts/check-manifests.sh --selftest sets it), the mutations only a real helm
catches run too; with TG_BIN set, the one about check-config.
Ends with `selftest: N passed, M failed`.
"""
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# (what breaks, file, old text, new text, expected substring of a FAIL line)
MUTATIONS = [
    ("second container", "manifests/base/deployment.yaml",
     "      volumes:\n",
     "        - name: sidecar\n          image: busybox:1\n      volumes:\n",
     "exactly one container"),
    ("no readiness probe", "manifests/base/deployment.yaml",
     "          readinessProbe:\n            httpGet:\n              path: /readyz\n",
     "          startupProbe:\n            httpGet:\n              path: /readyz\n",
     "readinessProbe GET /readyz"),
    ("probe on the proxy port", "manifests/base/deployment.yaml",
     "              path: /healthz\n              port: metrics\n",
     "              path: /healthz\n              port: https\n",
     "livenessProbe GET /healthz"),
    ("writable root filesystem", "manifests/base/deployment.yaml",
     "readOnlyRootFilesystem: true", "readOnlyRootFilesystem: false", "readOnlyRootFilesystem"),
    ("capabilities kept", "manifests/base/deployment.yaml",
     "                - ALL\n", "                - NET_RAW\n", "capabilities drop ALL"),
    ("misspelt flag", "manifests/base/deployment.yaml",
     "--upstream=", "--upstreem=", "args are known tenantgate flags"),
    ("config not mounted where --config-file says", "manifests/base/deployment.yaml",
     "mountPath: /etc/tenantgate/config", "mountPath: /etc/kube-rbac-proxy",
     "--config-file is mounted from a ConfigMap"),
    ("big memory request", "manifests/base/deployment.yaml",
     "              memory: 32Mi", "              memory: 256Mi", "memory request sized small"),
    ("shipped config edited", "manifests/base/config.yaml",
     "resource: namespace", "resource: services",
     "two-sidecar stack's kube-rbac-proxy config, verbatim"),
    ("hard-coded subject namespace", "manifests/base/clusterrolebinding.yaml",
     "    name: tenantgate\n", "    name: tenantgate\n    namespace: monitoring\n",
     "subject namespace follows the kustomization"),
    ("broken kustomization", "manifests/stack/kustomization.yaml",
     "  - prometheus.yaml\n", "  - prometheus.yaml\n  - missing.yaml\n",
     "manifests/stack: kubectl kustomize renders"),
    ("no enforcedNamespaceLabel", "manifests/stack/prometheus.yaml",
     "  enforcedNamespaceLabel: namespace\n", "", "enforcedNamespaceLabel"),
    ("Prometheus reachable from other namespaces", "manifests/stack/networkpolicies.yaml",
     "    - from:\n        - podSelector: {}\n---",
     "    - from:\n        - namespaceSelector: {}\n---",
     "prometheus/prometheus only reachable from its own namespace"),
    ("policy no longer Deny", "manifests/stack/policy/monitor-label-guard.yaml",
     "validationActions: [Deny]", "validationActions: [Audit]", "validationActions Deny"),
    ("datasource back to GET", "manifests/tenant/datasource.yaml",
     "httpMethod: POST", "httpMethod: GET", "httpMethod POST"),
    ("tlsSkipVerify", "manifests/tenant/datasource.yaml",
     "tlsAuthWithCACert: true", "tlsSkipVerify: true", "TLS verified with a CA"),
    ("tenant Role without what the config asks (namespace/metrics)", "manifests/tenant/role.yaml",
     "      - namespace/metrics\n", "", "may get namespace/metrics"),
    ("config asks for a resource the tenant Role lacks", "manifests/base/config.yaml",
     "subresource: metrics", "subresource: proxy", "may get namespace/proxy"),
    ("Dockerfile runs as root", "Dockerfile", "USER 65534:65534", "USER 0", "runs as uid 65534"),
    ("Dockerfile port dropped", "Dockerfile",
     "EXPOSE 8443/tcp 8080/tcp 9091/tcp", "EXPOSE 8443/tcp 9091/tcp", "EXPOSE"),
    ("chart references a missing value", "manifests/helm/tenantgate/templates/service.yaml",
     "type: {{ .Values.service.type }}", "type: {{ .Values.service.kind }}",
     "every .Values reference exists"),
    ("chart value undocumented", "manifests/helm/tenantgate/README.md",
     "| `priorityClassName` |", "| priorityClassName |", "every value documented"),
    ("chart block not closed", "manifests/helm/tenantgate/templates/pdb.yaml",
     "  {{- end }}\n  selector:", "  selector:", "actions well formed"),
    ("chart function misspelt", "manifests/helm/tenantgate/templates/service.yaml",
     "toYaml . | nindent 4", "toYml . | nindent 4", "unknown function"),
    ("chart without checksum annotation", "manifests/helm/tenantgate/templates/deployment.yaml",
     "checksum/config:", "config-hash:", "config checksum annotation"),
    ("chart unknown flag", "manifests/helm/tenantgate/templates/deployment.yaml",
     "- --label=", "- --lable=", "Deployment args are tenantgate flags"),
    ("chart privileged default", "manifests/helm/tenantgate/values.yaml",
     "  allowPrivilegeEscalation: false", "  allowPrivilegeEscalation: true",
     "default securityContext: allowPrivilegeEscalation false"),
    ("alertmanager component without the upstream", "manifests/components/alertmanager/kustomization.yaml",
     "value: --alertmanager-upstream=http://alertmanager-operated:9093/", "value: --label=namespace",
     "the alertmanager component sends /api/v2/ to an Alertmanager"),
    ("alerts editor role without a write verb", "manifests/components/alertmanager/clusterrole.yaml",
     "verbs: [get, create, update, delete]", "verbs: [get, create, delete]",
     "tenants get a role with the write verbs"),
]

# The same, for what only a real helm sees (scripts/check_helm.py; run when $HELM is set).
HELM_MUTATIONS = [
    ("chart template that is not YAML", "manifests/helm/tenantgate/templates/service.yaml",
     "  ports:\n", "   ports:\n", "helm template renders"),
    ("chart tenant ClusterRole without what the config asks",
     "manifests/helm/tenantgate/templates/clusterrole-tenant.yaml",
     "      - namespace/metrics\n", "", "metrics-reader may get namespace/metrics"),
    ("chart drops extraArgs", "manifests/helm/tenantgate/templates/deployment.yaml",
     "            - {{ . | quote }}\n", "", "extraArgs come last"),
    ("chart ci/ values leave a feature out",
     "manifests/helm/tenantgate/ci/all-features-values.yaml",
     "priorityClassName: system-cluster-critical\n", "", "switch every optional value"),
    ("chart flag check-config refuses", "manifests/helm/tenantgate/ci/all-features-values.yaml",
     "minVersion: VersionTLS12", "minVersion: VersionTLS99",
     "check-config accepts the Deployment's args and config"),
]


def main():
    passed = failed = 0
    env = dict(os.environ)
    mutations = MUTATIONS
    if env.get("HELM"):
        mutations = MUTATIONS + HELM_MUTATIONS
    else:
        print(f"skip  {len(HELM_MUTATIONS)} mutations of the chart that need a real helm: "
              "HELM is not set")
    for what, path, old, new, expect in mutations:
        # check-config (TG_BIN) only for the mutation that is about it
        env.pop("TG_BIN", None)
        if "check-config" in expect:
            env["TG_BIN"] = os.environ.get("TG_BIN", "")
        tmp = tempfile.mkdtemp(prefix="check-manifests-selftest.")
        try:
            for x in ("manifests", "scripts"):
                shutil.copytree(os.path.join(ROOT, x), os.path.join(tmp, x),
                                ignore=shutil.ignore_patterns("__pycache__"))
            for x in ("Dockerfile", ".dockerignore"):
                shutil.copy(os.path.join(ROOT, x), os.path.join(tmp, x))
            f = os.path.join(tmp, path)
            text = open(f).read()
            if old not in text:
                print(f"FAIL  {what}: mutation does not apply ({old!r} not in {path})")
                failed += 1
                continue
            open(f, "w").write(text.replace(old, new, 1))
            env["CHECK_MANIFESTS_ROOT"] = tmp
            p = subprocess.run([sys.executable, os.path.join(tmp, "scripts/check_manifests.py")],
                               capture_output=True, text=True, env=env)
            fails = [l for l in p.stdout.splitlines() if l.startswith("FAIL")]
            if p.returncode == 1 and any(expect in l for l in fails):
                print(f"ok    {what}: caught ({len(fails)} FAIL lines)")
                passed += 1
            else:
                print(f"FAIL  {what}: checker exit {p.returncode}, expected a FAIL line with "
                      f"{expect!r}; got {fails[:3]}")
                failed += 1
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    print(f"selftest: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
