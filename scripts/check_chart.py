#!/usr/bin/env python3
"""Static checks of the Helm chart manifests/helm/tenantgate, without a Helm binary.

Called by scripts/check_manifests.py (run(...)); also runs alone:
    python3 scripts/check_chart.py [CHART_DIR]

Checks: required files exist; Chart.yaml and values.yaml parse and follow the prometheus-community
charts' conventions; every `.Values.x.y` a template references exists in values.yaml; every value
is documented in the chart's README table (and nothing stale is); the templates' actions are
balanced ({{ }}, parentheses, if/range/with/define ... end), call only known functions and include
only defined templates; the Deployment's args are tenantgate flags; the config checksum annotation
is there; the defaults pass the same security/resource/port checks as the kustomize manifests.
Needs PyYAML (Debian: python3-yaml).
"""
import os
import re
import sys

import yaml

REQUIRED_FILES = [
    "Chart.yaml", "values.yaml", "README.md", ".helmignore",
    "templates/_helpers.tpl", "templates/NOTES.txt", "templates/deployment.yaml",
    "templates/service.yaml", "templates/serviceaccount.yaml", "templates/configmap.yaml",
    "templates/clusterrolebinding.yaml", "templates/servicemonitor.yaml",
    "templates/networkpolicy.yaml", "templates/pdb.yaml", "templates/hpa.yaml",
]

# Keys the prometheus-community charts (and the issue) name.
CONVENTION_KEYS = [
    "image.repository", "image.tag", "image.pullPolicy", "replicaCount", "resources",
    "podSecurityContext", "securityContext", "serviceAccount.create", "serviceAccount.name",
    "serviceAccount.annotations", "rbac.create", "config.upstream", "config.label",
    "config.file", "tls", "serviceMonitor.enabled", "serviceMonitor.interval",
    "networkPolicy.enabled", "podDisruptionBudget.enabled", "autoscaling.enabled",
    "autoscaling.minReplicas", "autoscaling.maxReplicas", "affinity", "nodeSelector",
    "tolerations", "extraArgs", "nameOverride", "fullnameOverride", "imagePullSecrets",
]

# Values passed through whole (toYaml): documented as one key, not key by key.
FREEFORM = {"config.file", "resources", "podSecurityContext", "securityContext"}

# Functions a template may call: Go text/template builtins, Sprig, Helm's own.
KNOWN_FUNCS = set("""
and or not len index slice print printf println html js urlquery call eq ne lt le gt ge
default empty coalesce ternary fail required include tpl toYaml fromYaml toJson fromJson
toPrettyJson toString quote squote trim trimPrefix trimSuffix trunc lower upper title replace
contains hasPrefix hasSuffix nindent indent join split splitList list dict get set hasKey keys
values merge mergeOverwrite pluck first last append sha256sum b64enc b64dec toStrings int int64
float64 atoi kindIs typeOf semverCompare lookup regexMatch regexReplaceAll cat sortAlpha uniq
without has deepCopy dig
""".split())
KEYWORDS = {"if", "else", "end", "range", "with", "define", "block", "template", "true",
            "false", "nil", "break", "continue"}


def values_paths(v, prefix=""):
    """Every documented unit of values.yaml: leaves, empty maps/lists, and free-form blocks."""
    out = []
    for k, x in v.items():
        p = prefix + k
        if isinstance(x, dict) and x and p not in FREEFORM:
            out += values_paths(x, p + ".")
        else:
            out.append(p)
    return out


def get(values, path, default=None):
    """The value at a dotted path of values.yaml, or default."""
    cur = values
    for part in path.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return default
        cur = cur[part]
    return cur


_MISSING = object()


def lookup(values, path):
    return get(values, path, _MISSING) is not _MISSING


def actions(text):
    """The text inside each {{ }} action, comments dropped."""
    out = []
    for m in re.finditer(r"\{\{-?(.*?)-?\}\}", text, re.S):
        a = m.group(1).strip()
        if a.startswith("/*"):
            continue
        out.append(a)
    return out


def strip_strings(a):
    return re.sub(r'"(?:\\.|[^"\\])*"|`[^`]*`', '""', a)


def run(R, chart, seed_config, check_security, check_resources, ports, flags=None):
    name = os.path.basename(chart.rstrip("/"))
    c = f"chart {name}"
    for f in REQUIRED_FILES:
        R.check(f"{c}: {f} exists", os.path.isfile(os.path.join(chart, f)))

    try:
        meta = yaml.safe_load(open(os.path.join(chart, "Chart.yaml")))
        R.check(f"{c}: Chart.yaml parses", isinstance(meta, dict))
    except (OSError, yaml.YAMLError) as e:
        R.check(f"{c}: Chart.yaml parses", False, str(e))
        meta = None
    if isinstance(meta, dict):
        R.check(f"{c}: Chart.yaml apiVersion v2, name = directory, semver version, appVersion",
                meta.get("apiVersion") == "v2" and meta.get("name") == name
                and re.fullmatch(r"\d+\.\d+\.\d+(-[\w.]+)?", str(meta.get("version", "")))
                is not None and bool(meta.get("appVersion")), str(meta)[:200])
    try:
        values = yaml.safe_load(open(os.path.join(chart, "values.yaml")))
        ok = isinstance(values, dict)
        R.check(f"{c}: values.yaml parses", ok)
    except (OSError, yaml.YAMLError) as e:
        R.check(f"{c}: values.yaml parses", False, str(e))
        ok = False
    if not ok:
        return
    for k in CONVENTION_KEYS:
        R.check(f"{c}: values.yaml has {k}", lookup(values, k))

    # templates
    tdir = os.path.join(chart, "templates")
    texts = {}
    for fn in sorted(os.listdir(tdir)) if os.path.isdir(tdir) else []:
        if fn.endswith((".yaml", ".tpl", ".txt")):
            texts[fn] = open(os.path.join(tdir, fn)).read()
    defined = {}
    for fn, t in texts.items():
        for d in re.findall(r'\{\{-?\s*define\s+"([^"]+)"', t):
            R.check(f"{c}: template {d!r} defined once", d not in defined,
                    f"in {defined.get(d)} and {fn}")
            defined[d] = fn
    refs = set()
    for fn, t in texts.items():
        tn = f"{c}: templates/{fn}"
        R.check(f"{tn}: {{{{ and }}}} balanced", t.count("{{") == t.count("}}"))
        depth, bad, acts = 0, [], actions(t)
        for a in acts:
            s = strip_strings(a)
            if s.count("(") != s.count(")"):
                bad.append(f"unbalanced parentheses in {{{{ {a} }}}}")
            word = re.match(r"[a-z]+", s)
            word = word.group(0) if word else ""
            if word in ("if", "range", "with", "define", "block"):
                depth += 1
            elif word == "end":
                depth -= 1
                if depth < 0:
                    bad.append("`end` without an opening block")
                    depth = 0
            for fname in re.findall(r'(?:include|template)\s+"([^"]+)"', a):
                if fname not in defined:
                    bad.append(f"include of undefined template {fname!r}")
            # bare words in function position: not fields (.x), variables ($x), strings,
            # numbers, keywords
            for w in re.findall(r"(?<![\w.$-])([A-Za-z_]\w*)", s):
                if w not in KNOWN_FUNCS and w not in KEYWORDS:
                    bad.append(f"unknown function {w!r} in {{{{ {a} }}}}")
            refs.update(re.findall(r"\.Values((?:\.\w+)+)", a))
            if re.search(r"\btpl\b", s) and ".Values.config" in s:
                bad.append("config passed through tpl (would eat the `{{ .Value }}` of "
                           "resourceAttributes)")
        if depth != 0:
            bad.append(f"{depth} block(s) without `end`")
        R.check(f"{tn}: actions well formed", not bad, "; ".join(bad[:5]))

    missing = sorted(r[1:] for r in refs if not lookup(values, r[1:]))
    R.check(f"{c}: every .Values reference exists in values.yaml ({len(refs)} references)",
            not missing, ", ".join(missing))

    # README values table
    try:
        readme = open(os.path.join(chart, "README.md")).read()
    except OSError:
        readme = ""
    documented = set(re.findall(r"^\|\s*`([^`]+)`\s*\|", readme, re.M))
    paths = values_paths(values)
    undocumented = [p for p in paths if p not in documented]
    R.check(f"{c}: every value documented in README.md ({len(paths)} keys)", not undocumented,
            ", ".join(undocumented))
    stale = sorted(d for d in documented if not lookup(values, d))
    R.check(f"{c}: README.md documents no value that does not exist", not stale,
            ", ".join(stale))
    unused = [p for p in paths if not any(r[1:] == p or r[1:].startswith(p + ".")
                                          or p.startswith(r[1:] + ".") for r in refs)]
    R.check(f"{c}: every value is used by a template", not unused, ", ".join(unused))

    # the Deployment template
    dep = texts.get("deployment.yaml", "")
    R.check(f"{c}: config checksum annotation on the pod template (changes roll the pods)",
            re.search(r"checksum/config:\s*\{\{.*sha256sum", dep) is not None)
    if flags:
        used = re.findall(r"^\s*-\s+--?([a-z][a-zA-Z0-9-]*)=", dep, re.M)
        unknown = sorted({f for f in used if f not in flags})
        R.check(f"{c}: Deployment args are tenantgate flags ({len(used)})",
                bool(used) and not unknown, ", ".join(unknown))
    R.check(f"{c}: Deployment probes /healthz and /readyz on the endpoints port",
            re.search(r"livenessProbe:\s*\n\s*httpGet:\s*\n\s*path: /healthz\s*\n\s*port: metrics",
                      dep) is not None
            and re.search(r"readinessProbe:\s*\n\s*httpGet:\s*\n\s*path: /readyz\s*\n\s*"
                          r"port: metrics", dep) is not None)
    R.check(f"{c}: Deployment has exactly one container",
            len(re.findall(r"^\s*- name: \S+\s*\n\s*image:", dep, re.M)) == 1)
    R.check(f"{c}: config mounted and passed with --config-file",
            "--config-file=/etc/tenantgate/config/config.yaml" in dep
            and "mountPath: /etc/tenantgate/config" in dep)
    notes = texts.get("NOTES.txt", "")
    R.check(f"{c}: NOTES.txt tells the tenant how to add a datasource (POST, namespace=, token)",
            "datasource" in notes.lower() and "POST" in notes and "namespace=" in notes
            and "service-account-token" in notes)

    # defaults: same bar as the kustomize manifests
    merged = dict(values.get("podSecurityContext") or {})
    merged.update(values.get("securityContext") or {})
    check_security(f"{c}: default securityContext", merged)
    check_resources(f"{c}: default resources", values.get("resources") or {})
    tls_port, plain_port, endpoints_port = ports
    ls = values.get("listen") or {}
    R.check(f"{c}: default ports {tls_port} (proxy) and {endpoints_port} (endpoints)",
            ls.get("securePort") == tls_port and ls.get("internalPort") == endpoints_port
            and (values.get("service") or {}).get("port") == tls_port)
    cfg = (values.get("config") or {}).get("file")
    R.check(f"{c}: default config.file is the two-sidecar stack's config (authorization only)",
            cfg == yaml.safe_load(seed_config) and list(cfg) == ["authorization"])


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import check_manifests as cm  # noqa: E402
    chart_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(cm.MANIFESTS, "helm",
                                                                   "tenantgate")
    run(cm.R, chart_dir, cm.SEED_CONFIG, cm.check_security, cm.check_resources,
        (cm.PORT_TLS, cm.PORT_PLAIN, cm.PORT_ENDPOINTS), flags=cm.FLAGS)
    print(f"chart: {cm.R.passed} passed, {cm.R.failed} failed")
    sys.exit(1 if cm.R.failed else 0)
