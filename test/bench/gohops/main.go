// gohops: a two-hop Go stand-in for kube-rbac-proxy (static token auth) in front of
// prom-label-proxy (PromQL label injection), used by test/bench/bench.py's proxy
// benchmark as a comparison column. Benchmark-only code: not part of tenantgate.
//
//	gohops -mode token -listen 127.0.0.1:P1 -upstream http://127.0.0.1:P2 -tokens alice-token=alpha,bob-token=beta
//	gohops -mode label -listen 127.0.0.1:P2 -upstream http://127.0.0.1:P3 -label namespace
//
// Token hop: "Authorization: Bearer <t>" must name a known token and ?namespace= must be the
// token's tenant (401/403 otherwise); the request is forwarded unchanged.
// Label hop: ?query= is parsed with metricsql, every metric selector gets <label>="<tenant>"
// (replacing any matcher on that label), the expression is printed again and the request is
// forwarded with the rewritten query and without the tenant parameter.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"

	"github.com/VictoriaMetrics/metricsql"
)

func proxyTo(upstream string) *httputil.ReverseProxy {
	u, err := url.Parse(upstream)
	if err != nil {
		log.Fatalf("upstream: %v", err)
	}
	p := httputil.NewSingleHostReverseProxy(u)
	p.Transport = &http.Transport{MaxIdleConnsPerHost: 1024, MaxIdleConns: 1024}
	return p
}

func tokenHop(next http.Handler, tokens map[string]string, param string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if !strings.HasPrefix(h, "Bearer ") {
			http.Error(w, "no token", http.StatusUnauthorized)
			return
		}
		tenant, ok := tokens[h[len("Bearer "):]]
		if !ok {
			http.Error(w, "unknown token", http.StatusUnauthorized)
			return
		}
		if r.URL.Query().Get(param) != tenant {
			http.Error(w, "tenant not allowed", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func enforce(q, label, tenant string) (string, error) {
	e, err := metricsql.Parse(q)
	if err != nil {
		return "", err
	}
	metricsql.VisitAll(e, func(x metricsql.Expr) {
		me, ok := x.(*metricsql.MetricExpr)
		if !ok {
			return
		}
		lfs := me.LabelFilters[:0]
		for _, lf := range me.LabelFilters {
			if lf.Label != label {
				lfs = append(lfs, lf)
			}
		}
		me.LabelFilters = append(lfs, metricsql.LabelFilter{Label: label, Value: tenant})
	})
	return string(e.AppendString(nil)), nil
}

func labelHop(next http.Handler, label, param string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := r.URL.Query()
		tenant := v.Get(param)
		if tenant == "" {
			http.Error(w, "no tenant", http.StatusBadRequest)
			return
		}
		if q := v.Get("query"); q != "" {
			out, err := enforce(q, label, tenant)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			v.Set("query", out)
		}
		v.Del(param)
		r.URL.RawQuery = v.Encode()
		next.ServeHTTP(w, r)
	})
}

func main() {
	mode := flag.String("mode", "", "token or label")
	listen := flag.String("listen", "127.0.0.1:0", "listen address")
	upstream := flag.String("upstream", "", "upstream URL")
	tokens := flag.String("tokens", "alice-token=alpha", "token=tenant,...")
	label := flag.String("label", "namespace", "label to enforce")
	param := flag.String("param", "namespace", "query parameter naming the tenant")
	flag.Parse()
	next := proxyTo(*upstream)
	var h http.Handler
	switch *mode {
	case "token":
		m := map[string]string{}
		for _, kv := range strings.Split(*tokens, ",") {
			if k, v, ok := strings.Cut(kv, "="); ok {
				m[k] = v
			}
		}
		h = tokenHop(next, m, *param)
	case "label":
		h = labelHop(next, *label, *param)
	default:
		log.Fatalf("-mode token|label")
	}
	log.Fatal(http.ListenAndServe(*listen, h))
}
