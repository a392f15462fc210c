package manifesttest_test

import (
	"os"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"

	"github.com/baton-dev/baton/charts/manifesttest"
)

var env *manifesttest.Env

func TestMain(m *testing.M) { os.Exit(manifesttest.Main(m, &env)) }

const deployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
spec:
  selector:
    matchLabels: {app: d}
  template:
    metadata:
      labels: {app: d}
    spec:
      containers:
        - name: c
          image: registry.invalid/c:1
`

const serviceMonitor = `
apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata:
  name: s
spec:
  selector:
    matchLabels: {app: d}
  endpoints:
    - port: probes
      path: /metrics
`

// TestDecodeIsStrict: the controls of the charts' and config's decoding.
func TestDecodeIsStrict(t *testing.T) {
	for _, c := range []struct {
		name, doc, wantErr string
	}{
		{"valid", "# comment only\n---\n" + deployment + "---\n" + serviceMonitor, ""},
		{"unknown field", strings.Replace(deployment, "image:", "imag: x\n          image:", 1), `unknown field "imag"`},
		{"duplicate key", strings.Replace(deployment, "  name: d\n", "  name: d\n  name: e\n", 1), `key "name" already set`},
		{"wrong type", strings.Replace(deployment, "selector:\n", "replicas: two\n  selector:\n", 1), "replicas"},
		{"unknown kind", "apiVersion: v1\nkind: Potato\nmetadata: {name: p}\n", "Potato"},
		{"misspelt ServiceMonitor field", strings.Replace(serviceMonitor, "path:", "pathh:", 1), "pathh"},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs, err := manifesttest.Decode([]byte(c.doc))
			if c.wantErr == "" {
				if err != nil || len(objs) != 2 {
					t.Fatalf("want 2 objects, got %d, %v", len(objs), err)
				}
				if d := manifesttest.One[*appsv1.Deployment](t, objs); d.Spec.Template.Spec.Containers[0].Image != "registry.invalid/c:1" {
					t.Errorf("decoded %+v", d)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), c.wantErr) {
				t.Errorf("want an error with %q, got %v", c.wantErr, err)
			}
		})
	}
}

// TestDryRunValidates: the API server, not only the decoder, checks what
// DryRunCreate sends: unknown fields (strict field validation) and invalid
// values.
func TestDryRunValidates(t *testing.T) {
	cl := env.Client(t)
	ns := manifesttest.Namespace(t, cl, "manifesttest-")
	for _, c := range []struct {
		name   string
		mutate func(obj map[string]any)
		ok     bool
	}{
		{"valid", func(map[string]any) {}, true},
		{"unknown field", func(o map[string]any) { o["spec"].(map[string]any)["replicaz"] = int64(2) }, false},
		{"invalid value", func(o map[string]any) {
			o["spec"].(map[string]any)["selector"] = map[string]any{"matchLabels": map[string]any{"app": "other"}}
		}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			objs, err := manifesttest.Decode([]byte(deployment + "---\n" + serviceMonitor))
			if err != nil {
				t.Fatal(err)
			}
			c.mutate(objs[0].Raw.Object)
			err = manifesttest.DryRunCreate(t.Context(), cl, ns, objs)
			if (err == nil) != c.ok {
				t.Errorf("want ok=%v, got %v", c.ok, err)
			}
		})
	}
}
