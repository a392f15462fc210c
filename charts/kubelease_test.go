package charts_test

import (
	"reflect"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/baton-dev/baton/charts/manifesttest"
	"github.com/baton-dev/baton/pkg/kube"
)

// kubeLease reports whether the chart rendered backend kubeLease.
func (r rendered) kubeLease() bool {
	v := envVar(r.baton, "BATON_BACKEND")
	return v != nil && v.Value == "kube-lease"
}

// wantRules are the Role's exact rules: the publisher's, and with
// kubeLease those of the Lease named lock: get, watch and update of that
// one name, and create, which RBAC cannot narrow by name.
func wantRules(kubeLease bool, lock string) []rbacv1.PolicyRule {
	rules := slices.Clone(kube.RequiredRules)
	if !kubeLease {
		return rules
	}
	return append(rules,
		rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, ResourceNames: []string{lock}, Verbs: []string{"get", "watch", "update"}},
		rbacv1.PolicyRule{APIGroups: []string{"coordination.k8s.io"}, Resources: []string{"leases"}, Verbs: []string{"create"}},
	)
}

// checkBackend checks what either backend must render: with kubeLease
// BATON_BACKEND and nothing of Redis (baton refuses Redis flags with
// --backend kube-lease), else no BATON_BACKEND, so that existing
// configurations render as before; and the Role's exact rules.
func checkBackend(t *testing.T, r rendered) {
	t.Helper()
	lock := envVar(r.baton, "BATON_LOCK")
	if lock == nil {
		t.Fatal("no BATON_LOCK")
	}
	for _, role := range manifesttest.Find[*rbacv1.Role](r.objs) {
		if want := wantRules(r.kubeLease(), lock.Value); !reflect.DeepEqual(role.Rules, want) {
			t.Errorf("Role %s rules:\n got %+v\nwant %+v", role.Name, role.Rules, want)
		}
	}
	if !r.kubeLease() {
		if v := envVar(r.baton, "BATON_BACKEND"); v != nil {
			t.Errorf("backend redis: want no BATON_BACKEND (baton's default), got %+v", v)
		}
		return
	}
	for _, e := range r.baton.Env {
		if strings.HasPrefix(e.Name, "BATON_REDIS_") || e.Name == "BATON_KEY_PREFIX" {
			t.Errorf("kubeLease: baton refuses %s with --backend kube-lease", e.Name)
		}
	}
	for _, d := range manifesttest.Find[*appsv1.Deployment](r.objs) {
		if d.Labels["app.kubernetes.io/component"] == "redis" {
			t.Errorf("kubeLease: unexpected bundled Redis %s", d.Name)
		}
	}
	for _, v := range r.deploy.Spec.Template.Spec.Volumes {
		if strings.HasPrefix(v.Name, "baton-redis-") {
			t.Errorf("kubeLease: unexpected volume %s", v.Name)
		}
	}
	if sa := r.deploy.Spec.Template.Spec.AutomountServiceAccountToken; sa == nil || !*sa {
		t.Error("kubeLease: baton needs the ServiceAccount token to reach its Lease")
	}
}

// checkKubeLeaseCI is what ci/kubelease-values.yaml must render.
func checkKubeLeaseCI(t *testing.T, r rendered) {
	if !r.kubeLease() {
		t.Fatal("want BATON_BACKEND=kube-lease")
	}
	wantEnv(t, r.baton, "BATON_LOCK", "nightly-report")
	wantEnv(t, r.baton, "BATON_LEASE_TTL", "6s")
	wantEnv(t, r.baton, "BATON_RENEW_DEADLINE", "4s")
	if !r.has("Role") || !r.has("RoleBinding") {
		t.Error("kubeLease: want the Role and its RoleBinding")
	}
	leader := manifesttest.One[*corev1.Service](t, r.objs)
	if leader.Spec.Selector["baton.dev/leader"] != "true" {
		t.Errorf("leader Service selects %v", leader.Spec.Selector)
	}
}

// TestKubeLeaseRenders renders backend kubeLease in each mode that runs an
// election, with no Redis values at all.
func TestKubeLeaseRenders(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
	}{
		{"sidecar", nil},
		{"classic", []string{"--set", "sidecar.native=false"}},
		{"exec", []string{"--set", "mode=exec", "--set", "exec.killGrace=1s"}},
		{"lock with dots, TTL 2s", []string{"--set", "lock=jobs.nightly-2", "--set", "timings.leaseTTL=2s"}},
		{"TTL in minutes", []string{"--set", "timings.leaseTTL=1m"}},
		{"empty TTL: baton's 15s", []string{"--set", "timings.leaseTTL="}},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--set", "backend=kubeLease"}, c.args...)
			r := newRendered(t, "default", render(t, "default", args...))
			checkInvariants(t, r)
			if !r.kubeLease() {
				t.Fatal("want BATON_BACKEND=kube-lease")
			}
		})
	}
}

// TestKubeLeaseRejects: what baton --backend kube-lease refuses, and the
// Redis values it would ignore, fail the rendering with their name.
func TestKubeLeaseRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"schedule mode", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily"}, "mode=schedule cannot run with backend=kubeLease"},
		{"TTL in milliseconds", []string{"--set", "timings.leaseTTL=2500ms"}, "timings.leaseTTL 2500ms must be whole seconds, at least 2s"},
		{"TTL below 2s", []string{"--set", "timings.leaseTTL=1s"}, "timings.leaseTTL 1s must be whole seconds, at least 2s"},
		{"TTL 1.5s", []string{"--set", "timings.leaseTTL=1.5s"}, "timings.leaseTTL 1.5s must be whole seconds"},
		{"lock with capitals", []string{"--set", "lock=Nightly"}, `lock "Nightly" must be a Lease name`},
		{"lock with an underscore", []string{"--set", "lock=nightly_report"}, `lock "nightly_report" must be a Lease name`},
		{"no token", []string{"--set", "serviceAccount.automount=false"}, "serviceAccount.automount cannot be false with backend=kubeLease"},
		{"bundled Redis", []string{"--set", "redis.enabled=true"}, "redis.enabled does not apply with backend=kubeLease"},
		{"Redis address", []string{"--set", "redis.addr=redis:6379"}, "redis.addr does not apply"},
		{"Redis cluster", []string{"--set", "redis.mode=cluster"}, "redis.mode does not apply"},
		{"Redis user", []string{"--set", "redis.username=baton"}, "redis.username does not apply"},
		{"Redis db", []string{"--set", "redis.db=2"}, "redis.db does not apply"},
		{"min replicas ack", []string{"--set", "redis.minReplicasAck=1"}, "redis.minReplicasAck does not apply"},
		{"replica ack timeout", []string{"--set", "redis.replicaAckTimeout=100ms"}, "redis.replicaAckTimeout does not apply"},
		{"password", []string{"--set", "redis.password.existingSecret=auth"}, "redis.password.existingSecret does not apply"},
		{"sentinel password", []string{"--set", "redis.sentinelPassword.existingSecret=auth"}, "redis.sentinelPassword.existingSecret does not apply"},
		{"TLS", []string{"--set", "redis.tls.enabled=true"}, "redis.tls.enabled does not apply"},
		{"key prefix", []string{"--set", "keyPrefix=jobs"}, "keyPrefix does not apply"},
		{"no workload, bundled Redis", []string{"--set", "workload.enabled=false", "--set", "redis.enabled=true"}, "redis.enabled does not apply"},
		{"unknown backend", []string{"--set", "backend=etcd"}, "backend"},
	} {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"--set", "backend=kubeLease"}, c.args...)
			_, err := helmTemplate(t, chartDir, "default", args...)
			if err == nil {
				t.Fatalf("helm template accepted %v", args)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("helm template: the error should name %q:\n%v", c.want, err)
			}
		})
	}
}
