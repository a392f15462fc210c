// Package manifesttest checks Kubernetes manifests against real things: it
// finds the helm and kubectl binaries, decodes rendered YAML strictly into
// the Kubernetes Go types, and submits it to a real kube-apiserver (envtest)
// as a server-side dry-run create with strict field validation.
//
// The tools come from the environment, as `make test` provides them:
//
//   - HELM names the helm binary; without it, hack/tools/helm.sh builds one
//     from the Go module proxy (a few minutes, then cached);
//   - KUBEBUILDER_ASSETS names a directory with kube-apiserver, etcd and
//     kubectl (hack/tools/kube-assets.sh provisions one);
//   - HELM_DOCS names the helm-docs binary (hack/tools/helm-docs.sh).
//
// A missing tool skips the test, except under CI=true, where it fails it.
package manifesttest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"
)

// KubeVersion is the Kubernetes version that charts are rendered for. It
// matches the kube-apiserver of hack/tools/kube-assets.sh.
const KubeVersion = "1.35.4"

// inCI reports whether a missing tool must fail rather than skip.
func inCI() bool { return os.Getenv("CI") == "true" }

// missing skips t, or fails it under CI=true.
func missing(t testing.TB, format string, args ...any) {
	t.Helper()
	if inCI() {
		t.Fatalf(format+" (CI=true: required)", args...)
	}
	t.Skipf(format, args...)
}

// ModuleRoot returns the directory of the module's go.mod.
func ModuleRoot(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("manifesttest: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Helm returns the path of the helm binary: $HELM, else what
// hack/tools/helm.sh prints (building helm on first use).
func Helm(t testing.TB) string {
	t.Helper()
	if h := os.Getenv("HELM"); h != "" {
		if _, err := exec.LookPath(h); err != nil {
			t.Fatalf("manifesttest: HELM=%s: %v", h, err)
		}
		return h
	}
	script := filepath.Join(ModuleRoot(t), "hack", "tools", "helm.sh")
	var stderr bytes.Buffer
	cmd := exec.Command(script)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		missing(t, "no helm: HELM is not set and %s failed: %v\n%s", script, err, stderr.String())
	}
	return strings.TrimSpace(string(out))
}

// HelmDocs returns the path of the helm-docs binary, $HELM_DOCS.
func HelmDocs(t testing.TB) string {
	t.Helper()
	h := os.Getenv("HELM_DOCS")
	if h == "" {
		missing(t, "no helm-docs: HELM_DOCS is not set (export HELM_DOCS=$(hack/tools/helm-docs.sh))")
	}
	if _, err := exec.LookPath(h); err != nil {
		t.Fatalf("manifesttest: HELM_DOCS=%s: %v", h, err)
	}
	return h
}

// Kubectl returns the kubectl of $KUBEBUILDER_ASSETS.
func Kubectl(t testing.TB) string {
	t.Helper()
	dir := os.Getenv("KUBEBUILDER_ASSETS")
	if dir == "" {
		missing(t, "no kubectl: KUBEBUILDER_ASSETS is not set (export KUBEBUILDER_ASSETS=$(hack/tools/kube-assets.sh))")
	}
	k := filepath.Join(dir, "kubectl")
	if _, err := os.Stat(k); err != nil {
		t.Fatalf("manifesttest: %v", err)
	}
	return k
}

// Run runs a command and returns its stdout, or its error with stderr.
func Run(name string, args ...string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(name, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.Bytes(), fmt.Errorf("%s %s: %w\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
	}
	return stdout.Bytes(), nil
}

// Object is one decoded manifest.
type Object struct {
	// GVK is its apiVersion and kind.
	GVK schema.GroupVersionKind
	// Typed is the manifest decoded strictly into its Go type: a type of
	// client-go's scheme, *ServiceMonitor or *PrometheusRule.
	Typed runtime.Object
	// Raw is the manifest as it was rendered, for the API server.
	Raw *unstructured.Unstructured
}

// Name is kind/name, for messages.
func (o Object) Name() string { return o.GVK.Kind + "/" + o.Raw.GetName() }

// Decode splits a multi-document YAML stream and decodes every non-empty
// document strictly into its Kubernetes Go type: an unknown field, a
// duplicate key, a wrong type or an unknown kind is an error.
func Decode(data []byte) ([]Object, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var objs []Object
	for {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			return objs, nil
		}
		if err != nil {
			return nil, err
		}
		var m map[string]any
		if err := yaml.Unmarshal(doc, &m); err != nil {
			return nil, err
		}
		if len(m) == 0 {
			continue // comments only
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, err
		}
		gvk := tm.GroupVersionKind()
		typed, err := newTyped(gvk)
		if err != nil {
			return nil, err
		}
		if err := yaml.UnmarshalStrict(doc, typed); err != nil {
			return nil, fmt.Errorf("%s %q: strict decoding: %w", gvk.Kind, name(m), err)
		}
		objs = append(objs, Object{GVK: gvk, Typed: typed, Raw: &unstructured.Unstructured{Object: m}})
	}
}

func name(m map[string]any) string {
	if md, ok := m["metadata"].(map[string]any); ok {
		if n, ok := md["name"].(string); ok {
			return n
		}
	}
	return ""
}

func newTyped(gvk schema.GroupVersionKind) (runtime.Object, error) {
	switch gvk {
	case ServiceMonitorGVK:
		return &ServiceMonitor{}, nil
	case PrometheusRuleGVK:
		return &PrometheusRule{}, nil
	}
	obj, err := clientgoscheme.Scheme.New(gvk)
	if err != nil {
		return nil, fmt.Errorf("no Go type for %s: %w", gvk, err)
	}
	return obj, nil
}

// Find returns the objects of a kind.
func Find[T runtime.Object](objs []Object) []T {
	var out []T
	for _, o := range objs {
		if v, ok := o.Typed.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// One returns the only object of a kind and fails t if there is not
// exactly one.
func One[T runtime.Object](t testing.TB, objs []Object) T {
	t.Helper()
	found := Find[T](objs)
	if len(found) != 1 {
		var zero T
		t.Fatalf("want exactly one %T, got %d", zero, len(found))
	}
	return found[0]
}

// ServiceMonitorGVK is the Prometheus Operator's ServiceMonitor.
var ServiceMonitorGVK = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "ServiceMonitor"}

// ServiceMonitor is a subset of the Prometheus Operator's monitoring/v1
// ServiceMonitor, with the same JSON names: the fields a chart of ours may
// set. Strict decoding into it rejects a misspelt field (and one this
// subset lacks: add it here, spelt as upstream). Importing the upstream
// module would pin its Kubernetes versions onto ours.
type ServiceMonitor struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              ServiceMonitorSpec `json:"spec"`
}

// ServiceMonitorSpec is the spec of a ServiceMonitor.
type ServiceMonitorSpec struct {
	JobLabel          string                `json:"jobLabel,omitempty"`
	Selector          metav1.LabelSelector  `json:"selector"`
	NamespaceSelector *NamespaceSelector    `json:"namespaceSelector,omitempty"`
	Endpoints         []ServiceMonitorPoint `json:"endpoints"`
}

// NamespaceSelector selects the namespaces of the Services to scrape.
type NamespaceSelector struct {
	Any        bool     `json:"any,omitempty"`
	MatchNames []string `json:"matchNames,omitempty"`
}

// ServiceMonitorPoint is one scraped endpoint of a ServiceMonitor.
type ServiceMonitorPoint struct {
	Port          string `json:"port,omitempty"`
	Path          string `json:"path,omitempty"`
	Scheme        string `json:"scheme,omitempty"`
	Interval      string `json:"interval,omitempty"`
	ScrapeTimeout string `json:"scrapeTimeout,omitempty"`
}

// DeepCopyObject makes ServiceMonitor a runtime.Object.
func (s *ServiceMonitor) DeepCopyObject() runtime.Object {
	out := *s
	s.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	s.Spec.Selector.DeepCopyInto(&out.Spec.Selector)
	if s.Spec.NamespaceSelector != nil {
		ns := *s.Spec.NamespaceSelector
		ns.MatchNames = append([]string(nil), ns.MatchNames...)
		out.Spec.NamespaceSelector = &ns
	}
	out.Spec.Endpoints = append([]ServiceMonitorPoint(nil), s.Spec.Endpoints...)
	return &out
}

// PrometheusRuleGVK is the Prometheus Operator's PrometheusRule.
var PrometheusRuleGVK = schema.GroupVersionKind{Group: "monitoring.coreos.com", Version: "v1", Kind: "PrometheusRule"}

// PrometheusRule is the Prometheus Operator's monitoring/v1 PrometheusRule,
// with the same JSON names, for strict decoding like ServiceMonitor. The
// rules themselves are promtool's to check (test/monitoring).
type PrometheusRule struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`
	Spec              PrometheusRuleSpec `json:"spec"`
}

// PrometheusRuleSpec is the spec of a PrometheusRule.
type PrometheusRuleSpec struct {
	Groups []RuleGroup `json:"groups"`
}

// RuleGroup is one group of rules.
type RuleGroup struct {
	Name     string `json:"name"`
	Interval string `json:"interval,omitempty"`
	Rules    []Rule `json:"rules"`
}

// Rule is one alerting or recording rule.
type Rule struct {
	Alert       string            `json:"alert,omitempty"`
	Record      string            `json:"record,omitempty"`
	Expr        string            `json:"expr"`
	For         string            `json:"for,omitempty"`
	Labels      map[string]string `json:"labels,omitempty"`
	Annotations map[string]string `json:"annotations,omitempty"`
}

// DeepCopyObject makes PrometheusRule a runtime.Object.
func (r *PrometheusRule) DeepCopyObject() runtime.Object {
	out := *r
	r.ObjectMeta.DeepCopyInto(&out.ObjectMeta)
	out.Spec.Groups = make([]RuleGroup, len(r.Spec.Groups))
	for i, g := range r.Spec.Groups {
		g.Rules = append([]Rule(nil), g.Rules...)
		for j := range g.Rules {
			g.Rules[j].Labels = maps.Clone(g.Rules[j].Labels)
			g.Rules[j].Annotations = maps.Clone(g.Rules[j].Annotations)
		}
		out.Spec.Groups[i] = g
	}
	return &out
}

// serviceMonitorCRD is a minimal CRD for ServiceMonitor, so that the API
// server accepts one: envtest has no Prometheus Operator. Its schema keeps
// unknown fields; the strict check of the fields is Decode's.
func serviceMonitorCRD() *apiextensionsv1.CustomResourceDefinition {
	preserve := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: "servicemonitors.monitoring.coreos.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "monitoring.coreos.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{
				Plural: "servicemonitors", Singular: "servicemonitor", Kind: "ServiceMonitor", ListKind: "ServiceMonitorList",
			},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type:                   "object",
					XPreserveUnknownFields: &preserve,
				}},
			}},
		},
	}
}

// prometheusRuleCRD is a minimal CRD for PrometheusRule, as
// serviceMonitorCRD is for ServiceMonitor.
func prometheusRuleCRD() *apiextensionsv1.CustomResourceDefinition {
	crd := serviceMonitorCRD()
	crd.Name = "prometheusrules.monitoring.coreos.com"
	crd.Spec.Names = apiextensionsv1.CustomResourceDefinitionNames{
		Plural: "prometheusrules", Singular: "prometheusrule", Kind: "PrometheusRule", ListKind: "PrometheusRuleList",
	}
	return crd
}

// Env is a running kube-apiserver for dry runs, shared by a package's
// tests.
type Env struct {
	kubeconfig []byte
	client     client.Client
	why        string // why there is none
	broken     bool   // asked for, but did not start
}

// Main runs a package's tests with an API server when KUBEBUILDER_ASSETS
// is set, and without one otherwise. Call it from TestMain:
//
//	var env *manifesttest.Env
//	func TestMain(m *testing.M) { os.Exit(manifesttest.Main(m, &env)) }
func Main(m *testing.M, env **Env) int {
	e := &Env{}
	*env = e
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		e.why = "KUBEBUILDER_ASSETS is not set (run `make test`, or export KUBEBUILDER_ASSETS=$(hack/tools/kube-assets.sh))"
		return m.Run()
	}
	te := &envtest.Environment{
		ControlPlaneStartTimeout: 2 * time.Minute,
		ControlPlaneStopTimeout:  time.Minute,
		CRDInstallOptions:        envtest.CRDInstallOptions{CRDs: []*apiextensionsv1.CustomResourceDefinition{serviceMonitorCRD(), prometheusRuleCRD()}},
	}
	cfg, err := te.Start()
	if err != nil {
		e.why, e.broken = fmt.Sprintf("envtest did not start: %v", err), true
		return m.Run()
	}
	defer func() {
		if err := te.Stop(); err != nil {
			fmt.Fprintf(os.Stderr, "envtest stop: %v\n", err)
		}
	}()
	c, err := client.New(cfg, client.Options{Scheme: clientgoscheme.Scheme})
	if err != nil {
		e.why, e.broken = fmt.Sprintf("client: %v", err), true
		return m.Run()
	}
	e.client, e.kubeconfig = c, te.KubeConfig
	return m.Run()
}

// Kubeconfig writes an admin kubeconfig of the API server for tools such
// as helm and kubectl, and returns its path. It skips or fails t like
// Client.
func (e *Env) Kubeconfig(t testing.TB) string {
	t.Helper()
	e.Client(t)
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, e.kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Client returns a client of the API server. It skips t when there is
// none, except under CI=true, and fails it when the server was asked for
// but did not start.
func (e *Env) Client(t testing.TB) client.Client {
	t.Helper()
	if e == nil || e.client == nil {
		why := "Main was not called"
		if e != nil {
			why = e.why
		}
		if e != nil && e.broken {
			t.Fatalf("no kube-apiserver: %s", why)
		}
		missing(t, "no kube-apiserver: %s", why)
	}
	return e.client
}

// Namespace creates a namespace for one test, deleted at its end.
func Namespace(t testing.TB, c client.Client, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix}}
	if err := c.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Delete(context.Background(), ns) })
	return ns.Name
}

// DryRunCreate submits each object as rendered to the API server as a
// server-side dry-run create with strict field validation, placing
// namespaced objects without a namespace in ns. It returns one error per
// rejected object.
func DryRunCreate(ctx context.Context, c client.Client, ns string, objs []Object) error {
	var errs []error
	for _, o := range objs {
		u := o.Raw.DeepCopy()
		namespaced, err := c.IsObjectNamespaced(u)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Name(), err))
			continue
		}
		if namespaced && u.GetNamespace() == "" {
			u.SetNamespace(ns)
		}
		if err := c.Create(ctx, u, client.DryRunAll, client.FieldValidation("Strict")); err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", o.Name(), err))
		}
	}
	return errors.Join(errs...)
}
