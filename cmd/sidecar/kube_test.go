//go:build unix

package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/baton-dev/baton/internal/kubetest"
	"github.com/baton-dev/baton/internal/redistest"
	"github.com/baton-dev/baton/pkg/kube"
)

func TestKubeFlagsRejectedBeforeAnyRedisCall(t *testing.T) {
	// Outside a pod whatever machine runs the tests: no in-cluster config.
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	addr := undialedRedis(t)
	pod := map[string]string{"POD_NAME": "p", "POD_NAMESPACE": "ns"}
	cases := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"bad mode", []string{"--lock", "j", "--redis-addr", addr, "--kube", "maybe"}, nil, `--kube must be auto, true or false (got "maybe")`},
		{"bad mode from env", []string{"--lock", "j", "--redis-addr", addr}, map[string]string{"BATON_KUBE": "yes"}, `--kube must be auto, true or false (got "yes")`},
		{"true without POD_NAME", []string{"--lock", "j", "--redis-addr", addr, "--kube", "true"}, map[string]string{"POD_NAMESPACE": "ns"}, "--kube is true but POD_NAME or POD_NAMESPACE is not set"},
		{"true without POD_NAMESPACE", []string{"--lock", "j", "--redis-addr", addr, "--kube=true"}, map[string]string{"POD_NAME": "p"}, "--kube is true but POD_NAME or POD_NAMESPACE is not set"},
		{"true outside a cluster", []string{"--lock", "j", "--redis-addr", addr, "--kube=true"}, pod, "--kube is true but there is no in-cluster configuration"},
		{"bad label key", []string{"--lock", "j", "--redis-addr", addr, "--kube-label-key", "not a key"}, nil, `--kube-label-key must be a label key such as baton.dev/leader`},
		{"missing kubeconfig", []string{"--lock", "j", "--redis-addr", addr, "--kubeconfig", filepath.Join(t.TempDir(), "none")}, pod, "--kubeconfig"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := run(tc.args, env(tc.env), &stdout, &stderr); code != exitUsage {
				t.Fatalf("exit code %d, want %d; stderr: %s", code, exitUsage, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.want) {
				t.Errorf("stderr = %q, want it to contain %q", stderr.String(), tc.want)
			}
		})
	}
}

func TestKubeDefaults(t *testing.T) {
	t.Setenv("KUBERNETES_SERVICE_HOST", "")
	c, err := parseConfig([]string{"--lock", "j"}, env(map[string]string{"POD_NAME": "p", "POD_NAMESPACE": "ns"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kube != kubeAuto || c.KubeLabelKey != kube.DefaultLabelKey || c.PodName != "p" || c.PodNamespace != "ns" || c.Kubeconfig != "" {
		t.Errorf("kube config = %q %q %q %q %q", c.Kube, c.KubeLabelKey, c.PodName, c.PodNamespace, c.Kubeconfig)
	}
	// auto outside a cluster, or --kube=false: no publisher, no calls.
	for _, mode := range []string{kubeAuto, kubeOff} {
		c.Kube = mode
		cfg, off, err := kubeRESTConfig(c)
		if err != nil || cfg != nil || off == "" {
			t.Errorf("--kube=%s outside a cluster: config %v, off %q, err %v; want off", mode, cfg, off, err)
		}
	}
	c, err = parseConfig([]string{"--lock", "j", "--kube-label-key", "example.com/leads"},
		env(map[string]string{"BATON_KUBE": "false", "BATON_KUBECONFIG": "/k"}), &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kube != kubeOff || c.KubeLabelKey != "example.com/leads" || c.Kubeconfig != "/k" {
		t.Errorf("from env: %q %q %q", c.Kube, c.KubeLabelKey, c.Kubeconfig)
	}
}

// TestSidecarPublishesOnItsPod runs two sidecar processes against a real
// Redis and a real kube-apiserver (envtest), each with --kube=true, a
// kubeconfig and its pod's name from POD_NAME: the labels and conditions
// follow the leadership, and a SIGTERM leaves the stopped pod at
// leader=false with a Resigned Event.
func TestSidecarPublishesOnItsPod(t *testing.T) {
	restCfg, kubeconfig := kubetest.Config(t), kubetest.Kubeconfig(t)
	cs, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		t.Fatal(err)
	}
	const ns = "default"
	for _, name := range []string{"baton-a", "baton-b"} {
		if _, err := cs.CoreV1().Pods(ns).Create(t.Context(), &corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "app", Image: "registry.invalid/app:1"}}},
		}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	srv := redistest.Start(t)
	knownStore(t, srv.Client(), "job")
	t.Setenv("POD_NAMESPACE", ns)
	kubeFlags := []string{"--lease-ttl", "2s", "--kube=true", "--kubeconfig", kubeconfig}

	t.Setenv("POD_NAME", "baton-a")
	a := startSidecar(t, srv.Addr(), "baton-a", kubeFlags...)
	ctx, cancel := context.WithTimeout(t.Context(), e2eGuard)
	defer cancel()
	mustLead(t, ctx, a)
	t.Setenv("POD_NAME", "baton-b")
	b := startSidecar(t, srv.Addr(), "baton-b", kubeFlags...)

	waitPodState(t, cs, ns, "baton-a", true, kube.ReasonLeading)
	waitPodState(t, cs, ns, "baton-b", false, kube.ReasonFollowing)
	if r := call(t, "GET", b.ProbeURL+"/metrics"); !strings.Contains(r.raw, `baton_kube_api_errors_total{op="patch_pod"} 0`) {
		t.Errorf("follower's /metrics lacks the publisher's metrics:\n%s", r.raw)
	}

	if err := a.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.Exited():
	case <-ctx.Done():
		t.Fatal("a did not exit after SIGTERM")
	}
	if code := a.Cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("a exited with %d, want 0", code)
	}
	// a published its final state before it exited.
	p, err := cs.CoreV1().Pods(ns).Get(t.Context(), "baton-a", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !podState(p, false, kube.ReasonShutdown) {
		t.Errorf("after a's exit: labels %v, conditions %+v; want leader=false, Shutdown", p.Labels, p.Status.Conditions)
	}
	waitPodState(t, cs, ns, "baton-b", true, kube.ReasonLeading)

	evs, err := cs.EventsV1().Events(ns).List(t.Context(), metav1.ListOptions{FieldSelector: "regarding.name=baton-a"})
	if err != nil {
		t.Fatal(err)
	}
	var reasons []string
	for _, e := range evs.Items {
		reasons = append(reasons, e.Reason)
	}
	if got := strings.Join(reasons, ","); !strings.Contains(got, kube.EventLeaderElected) || !strings.Contains(got, kube.EventResigned) {
		t.Errorf("events of baton-a: %v, want LeaderElected and Resigned", reasons)
	}
}

func podState(p *corev1.Pod, leader bool, reason string) bool {
	want := corev1.ConditionFalse
	if leader {
		want = corev1.ConditionTrue
	}
	if p.Labels[kube.DefaultLabelKey] != map[bool]string{true: "true", false: "false"}[leader] {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == kube.DefaultConditionType {
			return c.Status == want && c.Reason == reason
		}
	}
	return false
}

func waitPodState(t *testing.T, cs kubernetes.Interface, ns, name string, leader bool, reason string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		p, err := cs.CoreV1().Pods(ns).Get(t.Context(), name, metav1.GetOptions{})
		if err == nil && podState(p, leader, reason) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pod %s: want leader=%v (%s); got %+v, err %v", name, leader, reason, p, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
