package kube_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"

	"github.com/baton-dev/baton/pkg/kube"
)

// TestSidecarDoesNotLinkTheClientset: the typed clientset's scheme registers
// every API group at init and costs the sidecar about 9 MiB of memory; the
// publisher's calls go through kube.NewClient instead.
func TestSidecarDoesNotLinkTheClientset(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/baton-dev/baton/pkg/kube", "github.com/baton-dev/baton/cmd/sidecar").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := strings.Fields(string(out))
	if len(deps) == 0 {
		t.Fatal("go list printed no dependencies")
	}
	for _, dep := range deps {
		if dep == "k8s.io/client-go/kubernetes" || strings.HasPrefix(dep, "k8s.io/client-go/kubernetes/") {
			t.Errorf("pkg/kube or cmd/sidecar depends on %s", dep)
		}
	}
}

// TestClientRequests checks, against a stub server, what NewClient's
// requests carry: the paths of both API groups, the User-Agent (a default
// one only when none is set), impersonation, and a preference for protobuf
// as the typed clientset has.
func TestClientRequests(t *testing.T) {
	type request struct{ method, path, query, userAgent, accept, contentType, impersonate string }
	var (
		mu       sync.Mutex
		requests []request
	)
	// take returns the requests so far and forgets them.
	take := func() []request {
		mu.Lock()
		defer mu.Unlock()
		r := requests
		requests = nil
		return r
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		requests = append(requests, request{r.Method, r.URL.Path, r.URL.RawQuery, r.UserAgent(), r.Header.Get("Accept"),
			r.Header.Get("Content-Type"), r.Header.Get("Impersonate-User")})
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		switch {
		case strings.HasSuffix(r.URL.Path, "/events"):
			fmt.Fprint(w, `{"kind":"Event","apiVersion":"events.k8s.io/v1","metadata":{"name":"e","uid":"u-e"}}`)
		case strings.HasSuffix(r.URL.Path, "/pods"):
			fmt.Fprint(w, `{"kind":"PodList","apiVersion":"v1","metadata":{},"items":[{"metadata":{"name":"a"}},{"metadata":{"name":"b"}}]}`)
		case strings.HasSuffix(r.URL.Path, "/missing"):
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404,"message":"pods \"missing\" not found","details":{"name":"missing","kind":"pods"}}`)
		default:
			fmt.Fprint(w, `{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","uid":"u-a"}}`)
		}
	}))
	defer srv.Close()

	cfg := &rest.Config{Host: srv.URL, Impersonate: rest.ImpersonationConfig{UserName: "system:serviceaccount:ns:baton"}}
	c, err := kube.NewClient(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.UserAgent != "" || cfg.GroupVersion != nil {
		t.Errorf("NewClient changed its configuration: %+v", cfg)
	}
	ctx := t.Context()
	if p, err := c.GetPod(ctx, "ns", "a"); err != nil || p.Name != "a" || p.UID != "u-a" {
		t.Errorf("GetPod: %+v, %v", p, err)
	}
	if l, err := c.ListPods(ctx, "ns", metav1.ListOptions{LabelSelector: "baton.dev/leader=true"}); err != nil || len(l.Items) != 2 {
		t.Errorf("ListPods: %+v, %v", l, err)
	}
	if p, err := c.PatchPod(ctx, "ns", "a", types.StrategicMergePatchType, []byte(`{}`), "status"); err != nil || p.Name != "a" {
		t.Errorf("PatchPod: %+v, %v", p, err)
	}
	if e, err := c.CreateEvent(ctx, "ns", &eventsv1.Event{ObjectMeta: metav1.ObjectMeta{Name: "e"}}); err != nil || e.UID != "u-e" {
		t.Errorf("CreateEvent: %+v, %v", e, err)
	}
	_, err = c.GetPod(ctx, "ns", "missing")
	var se *apierrors.StatusError
	if !errors.As(fmt.Errorf("wrapped: %w", err), &se) || !apierrors.IsNotFound(err) {
		t.Errorf("GetPod of a missing pod: %v (%T), want a NotFound *StatusError", err, err)
	}

	want := []request{
		{method: "GET", path: "/api/v1/namespaces/ns/pods/a"},
		{method: "GET", path: "/api/v1/namespaces/ns/pods", query: "labelSelector=baton.dev%2Fleader%3Dtrue"},
		{method: "PATCH", path: "/api/v1/namespaces/ns/pods/a/status", contentType: string(types.StrategicMergePatchType)},
		{method: "POST", path: "/apis/events.k8s.io/v1/namespaces/ns/events", contentType: "application/vnd.kubernetes.protobuf"},
		{method: "GET", path: "/api/v1/namespaces/ns/pods/missing"},
	}
	got := take()
	if len(got) != len(want) {
		t.Fatalf("requests %+v, want %d", got, len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.method != w.method || g.path != w.path || g.query != w.query || g.contentType != w.contentType {
			t.Errorf("request %d: %s %s?%s (Content-Type %q), want %s %s?%s (Content-Type %q)",
				i, g.method, g.path, g.query, g.contentType, w.method, w.path, w.query, w.contentType)
		}
		if g.userAgent != kube.DefaultUserAgent {
			t.Errorf("request %d: User-Agent %q, want %q", i, g.userAgent, kube.DefaultUserAgent)
		}
		if !strings.HasPrefix(g.accept, "application/vnd.kubernetes.protobuf,") {
			t.Errorf("request %d: Accept %q, want protobuf first", i, g.accept)
		}
		if g.impersonate != cfg.Impersonate.UserName {
			t.Errorf("request %d: Impersonate-User %q, want %q", i, g.impersonate, cfg.Impersonate.UserName)
		}
	}

	// A User-Agent of the configuration is kept.
	c, err = kube.NewClient(&rest.Config{Host: srv.URL, UserAgent: "baton/v1.2.3"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetPod(ctx, "ns", "a")
	if got := take(); err != nil || len(got) != 1 || got[0].userAgent != "baton/v1.2.3" {
		t.Errorf("with a User-Agent set: %+v, %v", got, err)
	}
}

func TestNewClientRejectsBadConfigurations(t *testing.T) {
	for name, cfg := range map[string]*rest.Config{
		"nil":                nil,
		"QPS without Burst":  {Host: "https://127.0.0.1:1", QPS: 5},
		"bad host":           {Host: "https://a b"},
		"missing client key": {Host: "https://127.0.0.1:1", TLSClientConfig: rest.TLSClientConfig{CertFile: "/nonexistent/cert"}},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := kube.NewClient(cfg); err == nil || !strings.HasPrefix(err.Error(), "kube: ") {
				t.Errorf("NewClient: %v, want an error starting with kube:", err)
			}
		})
	}
}

// TestClientAgainstAPIServer: NewClient's calls work on a real API server,
// and its errors are the API server's, for apierrors to classify.
func TestClientAgainstAPIServer(t *testing.T) {
	cfg := apiServer(t)
	admin, c := clientset(t, cfg), leanClient(t, cfg)
	ns := namespace(t, admin)
	ctx := t.Context()
	a := pod(t, admin, ns, "a", map[string]string{"baton.dev/leader": "true"}, nil)
	pod(t, admin, ns, "b", nil, nil)

	got, err := c.GetPod(ctx, ns, "a")
	if err != nil || got.UID != a.UID || got.ResourceVersion == "" {
		t.Fatalf("GetPod: %+v, %v", got, err)
	}
	if _, err := c.GetPod(ctx, ns, "missing"); !apierrors.IsNotFound(err) {
		t.Errorf("GetPod of a missing pod: %v, want NotFound", err)
	}

	list, err := c.ListPods(ctx, ns, metav1.ListOptions{LabelSelector: "baton.dev/leader=true"})
	if err != nil || len(list.Items) != 1 || list.Items[0].Name != "a" {
		t.Errorf("ListPods by label: %+v, %v", list, err)
	}

	patched, err := c.PatchPod(ctx, ns, "a", types.MergePatchType, []byte(`{"metadata":{"labels":{"baton.dev/leader":"false"}}}`))
	if err != nil || patched.Labels["baton.dev/leader"] != "false" {
		t.Errorf("PatchPod: %+v, %v", patched, err)
	}
	stale := fmt.Sprintf(`{"metadata":{"resourceVersion":%q,"labels":{"x":"y"}}}`, a.ResourceVersion)
	if _, err := c.PatchPod(ctx, ns, "a", types.MergePatchType, []byte(stale)); !apierrors.IsConflict(err) {
		t.Errorf("PatchPod with a stale resourceVersion: %v, want Conflict", err)
	}
	cond := fmt.Sprintf(`{"status":{"conditions":[{"type":"baton.dev/leader","status":"True","reason":"Leading","lastTransitionTime":%q}]}}`,
		time.Now().UTC().Format(time.RFC3339))
	patched, err = c.PatchPod(ctx, ns, "a", types.StrategicMergePatchType, []byte(cond), "status")
	if err != nil || leaderCondition(patched) == nil || leaderCondition(patched).Status != corev1.ConditionTrue {
		t.Errorf("PatchPod of pods/status: %+v, %v", patched, err)
	}

	ev := &eventsv1.Event{
		ObjectMeta: metav1.ObjectMeta{Name: "a.1", Namespace: ns}, EventTime: metav1.NowMicro(),
		ReportingController: kube.DefaultReportingController, ReportingInstance: "a", Action: "Lead", Reason: kube.EventLeaderElected,
		Type: corev1.EventTypeNormal, Regarding: corev1.ObjectReference{APIVersion: "v1", Kind: "Pod", Namespace: ns, Name: "a", UID: a.UID},
	}
	created, err := c.CreateEvent(ctx, ns, ev)
	if err != nil || created.UID == "" || created.Reason != kube.EventLeaderElected {
		t.Errorf("CreateEvent: %+v, %v", created, err)
	}
	if _, err := c.CreateEvent(ctx, ns, ev); !apierrors.IsAlreadyExists(err) {
		t.Errorf("second CreateEvent: %v, want AlreadyExists", err)
	}
	waitEvents(t, admin, ns, "a", publishBound, kube.EventLeaderElected)
}
