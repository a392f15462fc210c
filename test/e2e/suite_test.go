//go:build linux

package e2e

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/baton-dev/baton/test/e2e/harness"
)

// suite is what every scenario shares: one cluster, one host Redis.
type suite struct {
	ctx   context.Context
	c     *harness.Cluster
	helmB string
	kctl  string
	redis string // host:port of the host's Redis, as pods reach it
	logs  *harness.LogCollector
	root  string // the repository

	mu      sync.Mutex
	results []string
	figures map[string]string
}

// report logs a scenario's one line, PASS or FAIL with its figures, and
// fails the test on FAIL.
func (s *suite) report(t *testing.T, n int, name string, pass bool, format string, args ...any) {
	t.Helper()
	verdict := "PASS"
	if !pass {
		verdict = "FAIL"
	}
	line := fmt.Sprintf("e2e: scenario %d %s: %s %s", n, name, verdict, fmt.Sprintf(format, args...))
	if pass {
		t.Log(line)
	} else {
		t.Error(line)
	}
	s.mu.Lock()
	s.results = append(s.results, line)
	s.mu.Unlock()
}

// figure records a measured figure for the summary.
func (s *suite) figure(name, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.figures[name] = fmt.Sprintf(format, args...)
}

func (s *suite) env() []string {
	h := filepath.Join(s.c.Dir, "helm")
	return append(os.Environ(),
		"KUBECONFIG="+s.c.Kubeconfig,
		"HELM_CACHE_HOME="+filepath.Join(h, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(h, "config"),
		"HELM_DATA_HOME="+filepath.Join(h, "data"),
	)
}

// helm runs the helm CLI against the cluster.
func (s *suite) helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(s.ctx, s.helmB, args...)
	cmd.Env = s.env()
	cmd.SysProcAttr = dieWithTest()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil {
		return out.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, out.String())
	}
	return out.String(), nil
}

// kubectl runs the stamped kubectl against the cluster.
func (s *suite) kubectl(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(s.ctx, s.kctl, args...)
	cmd.Env = s.env()
	cmd.SysProcAttr = dieWithTest()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

// dieWithTest makes a helper command die with the test process, so that a
// signal's teardown (which exits at once) leaves no helm or kubectl behind.
func dieWithTest() *syscall.SysProcAttr { return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} }

// writeValues writes a values file for helm under the cluster's dir.
func (s *suite) writeValues(t *testing.T, name, yaml string) string {
	t.Helper()
	p := filepath.Join(s.c.Dir, "helm", name+".yaml")
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func (s *suite) createNamespace(t *testing.T, ns string) {
	t.Helper()
	_, err := s.c.Client.CoreV1().Namespaces().Create(s.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("create namespace %s: %v", ns, err)
	}
	// Pods are refused until the controller-manager made the default
	// ServiceAccount.
	if err := poll(s.ctx, 30*time.Second, func() bool {
		_, err := s.c.Client.CoreV1().ServiceAccounts(ns).Get(s.ctx, "default", metav1.GetOptions{})
		return err == nil
	}); err != nil {
		t.Fatalf("namespace %s: no default ServiceAccount: %v", ns, err)
	}
}

// poll calls cond every 20 ms until it holds or timeout passes.
func poll(ctx context.Context, timeout time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// pods are the pods of a namespace with a label selector.
func (s *suite) pods(t *testing.T, ns, selector string) []corev1.Pod {
	t.Helper()
	l, err := s.c.Client.CoreV1().Pods(ns).List(s.ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		t.Fatalf("list pods: %v", err)
	}
	return l.Items
}

// describe is a namespace's pods and their containers' states, for
// failure messages.
func (s *suite) describe(ns string) string {
	l, err := s.c.Client.CoreV1().Pods(ns).List(s.ctx, metav1.ListOptions{})
	if err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range l.Items {
		fmt.Fprintf(&b, "%s phase=%s leader=%s deleting=%v\n", p.Name, p.Status.Phase, p.Labels[leaderLabel], p.DeletionTimestamp != nil)
		for _, st := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
			fmt.Fprintf(&b, "  %s ready=%v restarts=%d state=%+v\n", st.Name, st.Ready, st.RestartCount, st.State)
		}
	}
	ev, _ := s.c.Client.CoreV1().Events(ns).List(s.ctx, metav1.ListOptions{})
	if ev != nil {
		for _, e := range ev.Items {
			if e.Type == corev1.EventTypeWarning {
				fmt.Fprintf(&b, "event %s %s: %s\n", e.InvolvedObject.Name, e.Reason, e.Message)
			}
		}
	}
	return b.String()
}
