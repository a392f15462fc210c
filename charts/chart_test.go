package charts_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/baton-dev/baton/charts/manifesttest"
	"github.com/baton-dev/baton/pkg/election"
	"github.com/baton-dev/baton/pkg/kube"
	"github.com/baton-dev/baton/pkg/supervisor"
)

// env is the package's API server (see manifesttest.Main).
var env *manifesttest.Env

func TestMain(m *testing.M) { os.Exit(manifesttest.Main(m, &env)) }

const (
	chartDir = "baton"
	release  = "rel"
)

// render runs helm template on the chart for namespace ns with extra
// arguments (-f, --set) and decodes the result strictly.
func render(t *testing.T, ns string, extra ...string) []manifesttest.Object {
	t.Helper()
	out, err := helmTemplate(t, chartDir, ns, extra...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifesttest.Decode(out)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, out)
	}
	return objs
}

func helmTemplate(t *testing.T, chart, ns string, extra ...string) ([]byte, error) {
	t.Helper()
	args := append([]string{"template", release, chart, "--namespace", ns, "--kube-version", manifesttest.KubeVersion}, extra...)
	return manifesttest.Run(manifesttest.Helm(t), args...)
}

func helmLint(t *testing.T, chart string, extra ...string) error {
	t.Helper()
	args := append([]string{"lint", "--strict", "--kube-version", manifesttest.KubeVersion, chart}, extra...)
	_, err := manifesttest.Run(manifesttest.Helm(t), args...)
	return err
}

// valuesCases are the default values and each file of baton/ci, with what
// each must render beyond the invariants of checkInvariants.
func valuesCases(t *testing.T) []valuesCase {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("want at least 5 files in %s/ci, got %v (%v)", chartDir, files, err)
	}
	cases := []valuesCase{{name: "no-values", check: checkDefaults}}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), "-values.yaml")
		check, ok := ciChecks[name]
		if !ok {
			t.Errorf("%s has no entry in ciChecks: say what it must render", f)
		}
		cases = append(cases, valuesCase{name: name, file: f, check: check})
	}
	return cases
}

type valuesCase struct {
	name  string
	file  string // empty: the defaults
	check func(t *testing.T, r rendered)
}

func (c valuesCase) args() []string {
	if c.file == "" {
		return nil
	}
	return []string{"-f", c.file}
}

var ciChecks = map[string]func(t *testing.T, r rendered){
	"kubelease": checkKubeLeaseCI,
	"defaults": func(t *testing.T, r rendered) {
		wantEnv(t, r.baton, "BATON_LOCK", "nightly-report")
		wantEnv(t, r.baton, "BATON_REDIS_ADDR", "redis.default.svc:6379")
	},
	"classic-sidecar": func(t *testing.T, r rendered) {
		spec := r.deploy.Spec.Template.Spec
		if len(spec.InitContainers) != 0 || len(spec.Containers) != 2 {
			t.Errorf("classic: want no init containers and 2 containers, got %d and %d", len(spec.InitContainers), len(spec.Containers))
		}
		if r.baton.RestartPolicy != nil {
			t.Errorf("classic: baton has restartPolicy %v", *r.baton.RestartPolicy)
		}
		if l := r.baton.Lifecycle; l == nil || l.PreStop == nil || l.PreStop.Sleep == nil || l.PreStop.Sleep.Seconds != 15 {
			t.Errorf("classic: want a preStop sleep of 15s, got %+v", l)
		}
		if g := spec.TerminationGracePeriodSeconds; g == nil || *g != 45 {
			t.Errorf("terminationGracePeriodSeconds: want 45, got %v", g)
		}
		wantEnv(t, r.baton, "BATON_LOG_FORMAT", "text")
	},
	"sentinel-tls": func(t *testing.T, r rendered) {
		wantEnv(t, r.baton, "BATON_REDIS_MODE", "sentinel")
		wantEnv(t, r.baton, "BATON_REDIS_MASTER_NAME", "mymaster")
		wantEnv(t, r.baton, "BATON_REDIS_USERNAME", "baton")
		wantEnv(t, r.baton, "BATON_REDIS_TLS", "true")
		wantEnv(t, r.baton, "BATON_REDIS_TLS_SERVER_NAME", "redis.example.internal")
		wantSecretEnv(t, r.baton, "BATON_REDIS_PASSWORD", "redis-auth", "password")
		wantSecretEnv(t, r.baton, "BATON_REDIS_SENTINEL_PASSWORD", "redis-auth", "sentinel-password")
		wantEnv(t, r.baton, "BATON_LEASE_TTL", "9s")
		wantEnv(t, r.baton, "BATON_RENEW_INTERVAL", "2s")
		wantEnv(t, r.baton, "BATON_RENEW_DEADLINE", "6s")
		wantEnv(t, r.baton, "BATON_RELEASE_TIMEOUT", "3s")
		wantEnv(t, r.baton, "BATON_REDIS_MIN_REPLICAS_ACK", "1")
		wantEnv(t, r.baton, "BATON_REDIS_REPLICA_ACK_TIMEOUT", "500ms")
		ca := wantMountedFile(t, r, "BATON_REDIS_CA_FILE")
		if ca.Secret == nil || ca.Secret.SecretName != "redis-ca" {
			t.Errorf("CA volume: want Secret redis-ca, got %+v", ca.VolumeSource)
		}
		for _, env := range []string{"BATON_REDIS_CERT_FILE", "BATON_REDIS_KEY_FILE"} {
			v := wantMountedFile(t, r, env)
			if v.Secret == nil || v.Secret.SecretName != "baton-redis-client" {
				t.Errorf("%s volume: want Secret baton-redis-client, got %+v", env, v.VolumeSource)
			}
		}
	},
	"tls-configmap-ca": func(t *testing.T, r rendered) {
		for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding"} {
			if r.has(kind) {
				t.Errorf("rbac.create=false, serviceAccount.create=false: unexpected %s", kind)
			}
		}
		if sa := r.deploy.Spec.Template.Spec.ServiceAccountName; sa != "batch-runner" {
			t.Errorf("serviceAccountName: want batch-runner, got %s", sa)
		}
		wantEnv(t, r.baton, "BATON_REDIS_MODE", "cluster")
		wantEnv(t, r.baton, "BATON_KUBE", "false")
		ca := wantMountedFile(t, r, "BATON_REDIS_CA_FILE")
		if ca.ConfigMap == nil || ca.ConfigMap.Name != "redis-ca-bundle" {
			t.Errorf("CA volume: want ConfigMap redis-ca-bundle, got %+v", ca.VolumeSource)
		}
	},
	"redis-pdb-monitoring": func(t *testing.T, r rendered) {
		deploys := manifesttest.Find[*appsv1.Deployment](r.objs)
		svcs := manifesttest.Find[*corev1.Service](r.objs)
		if len(deploys) != 2 || len(svcs) != 3 {
			t.Fatalf("want the workload and Redis Deployments and 3 Services (Redis, leader, metrics), got %d and %d", len(deploys), len(svcs))
		}
		redisSvc := findNamed(t, svcs, "rel-baton-redis")
		wantEnv(t, r.baton, "BATON_REDIS_ADDR", "rel-baton-redis:6379")
		if redisSvc.Spec.Ports[0].Port != 6379 {
			t.Errorf("Redis Service port: %d", redisSvc.Spec.Ports[0].Port)
		}
		redisDeploy := findNamed(t, deploys, "rel-baton-redis")
		if c := redisDeploy.Spec.Template.Spec.Containers[0]; c.Image != "docker.io/library/redis:7" {
			t.Errorf("Redis image: %s", c.Image)
		}
		// The workload's selector must not match Redis's pods, nor
		// Redis's selector the workload's.
		if selects(r.deploy.Spec.Selector.MatchLabels, redisDeploy.Spec.Template.Labels) {
			t.Error("the workload's selector matches the Redis pods")
		}
		if selects(redisSvc.Spec.Selector, r.deploy.Spec.Template.Labels) {
			t.Error("the Redis Service selects the workload's pods")
		}

		leader := findNamed(t, svcs, "rel-baton-leader")
		if leader.Spec.Selector["baton.dev/leader"] != "true" || !selects(leader.Spec.Selector, withLeader(r.deploy.Spec.Template.Labels)) {
			t.Errorf("leader Service: selector %v must select the workload's pods labelled baton.dev/leader=true", leader.Spec.Selector)
		}
		if selects(leader.Spec.Selector, r.deploy.Spec.Template.Labels) {
			t.Error("leader Service selects pods without the leader label")
		}

		pdb := manifesttest.One[*policyv1.PodDisruptionBudget](t, r.objs)
		if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 {
			t.Errorf("PDB maxUnavailable: %v", pdb.Spec.MaxUnavailable)
		}
		if !selects(pdb.Spec.Selector.MatchLabels, r.deploy.Spec.Template.Labels) || selects(pdb.Spec.Selector.MatchLabels, redisDeploy.Spec.Template.Labels) {
			t.Errorf("PDB selector %v must select the workload's pods alone", pdb.Spec.Selector.MatchLabels)
		}

		metrics := findNamed(t, svcs, "rel-baton-metrics")
		if p := metrics.Spec.Ports[0]; p.Port != 8081 || p.TargetPort.String() != "probes" {
			t.Errorf("metrics Service port: %+v", p)
		}
		sm := manifesttest.One[*manifesttest.ServiceMonitor](t, r.objs)
		if !selects(sm.Spec.Selector.MatchLabels, metrics.Labels) || selects(sm.Spec.Selector.MatchLabels, leader.Labels) {
			t.Errorf("ServiceMonitor selector %v must select the metrics Service alone", sm.Spec.Selector.MatchLabels)
		}
		if e := sm.Spec.Endpoints; len(e) != 1 || e[0].Port != "probes" || e[0].Path != "/metrics" {
			t.Errorf("ServiceMonitor endpoints: %+v", e)
		}
		if sm.Labels["release"] != "prometheus" {
			t.Errorf("ServiceMonitor labels: %v", sm.Labels)
		}
	},
	"exec": func(t *testing.T, r rendered) {
		if !r.exec() {
			t.Fatal("mode=exec rendered no installer")
		}
		if want := []string{"/baton-bin/baton", "run", "--", "sh", "-c"}; !reflect.DeepEqual(r.app.Command, want) {
			t.Errorf("command: want %q, got %q", want, r.app.Command)
		}
		if len(r.app.Args) != 1 || !strings.Contains(r.app.Args[0], "$BATON_FENCE") {
			t.Errorf("args: want app.args as they are, got %q", r.app.Args)
		}
		wantEnv(t, r.baton, "BATON_KILL_GRACE", "2s")
		wantEnv(t, r.baton, "BATON_ON_EXIT", "recampaign")
		wantEnv(t, r.baton, "BATON_LEASE_TTL", "10s")
		wantEnv(t, r.baton, "BATON_RELEASE_TIMEOUT", "3s")
		ca := wantMountedFile(t, r, "BATON_REDIS_CA_FILE")
		if ca.Secret == nil || ca.Secret.SecretName != "redis-ca" {
			t.Errorf("CA volume: want Secret redis-ca, got %+v", ca.VolumeSource)
		}
		spec := r.deploy.Spec.Template.Spec
		var vols []string
		for _, v := range spec.Volumes {
			vols = append(vols, v.Name)
		}
		if want := []string{"baton-bin", "baton-redis-ca", "scratch"}; !reflect.DeepEqual(vols, want) {
			t.Errorf("volumes: want %v, got %v", want, vols)
		}
		if !slices.ContainsFunc(r.app.VolumeMounts, func(m corev1.VolumeMount) bool { return m.Name == "scratch" && !m.ReadOnly }) {
			t.Errorf("the app's own writable mount is missing: %+v", r.app.VolumeMounts)
		}
		if g := spec.TerminationGracePeriodSeconds; g == nil || *g != 20 {
			t.Errorf("terminationGracePeriodSeconds: want 20, got %v", g)
		}
	},
	"schedule": func(t *testing.T, r rendered) {
		if !r.schedule() {
			t.Fatal("mode=schedule rendered no baton run --schedule")
		}
		want := []string{"/baton-bin/baton", "run", "--schedule=0 3 * * *", "--time-zone=Europe/Berlin",
			"--max-attempts=3", "--catch-up=last", "--attempt-deadline=2h", "--", "sh", "-c"}
		if !reflect.DeepEqual(r.app.Command, want) {
			t.Errorf("command:\n got %q\nwant %q", r.app.Command, want)
		}
		if len(r.app.Args) != 1 || !strings.Contains(r.app.Args[0], "$BATON_RUN_WINDOW") {
			t.Errorf("args: want app.args as they are, got %q", r.app.Args)
		}
		if *r.deploy.Spec.Replicas != 3 {
			t.Errorf("replicas: want 3, got %d", *r.deploy.Spec.Replicas)
		}
		wantEnv(t, r.baton, "BATON_KILL_GRACE", "2s")
		wantEnv(t, r.baton, "BATON_LEASE_TTL", "10s")
		wantEnv(t, r.baton, "BATON_RELEASE_TIMEOUT", "3s")
		if g := r.deploy.Spec.Template.Spec.TerminationGracePeriodSeconds; g == nil || *g != 20 {
			t.Errorf("terminationGracePeriodSeconds: want 20, got %v", g)
		}
		findNamed(t, manifesttest.Find[*corev1.Service](r.objs), "rel-baton-metrics")
	},
	"conventions": func(t *testing.T, r rendered) {
		common := map[string]string{"team": "reporting", "cost-center": "4711"}
		for _, o := range r.objs {
			if !hasLabels(o.Raw.GetLabels(), common) {
				t.Errorf("%s: labels %v lack commonLabels %v", o.Name(), o.Raw.GetLabels(), common)
			}
		}
		deploys := manifesttest.Find[*appsv1.Deployment](r.objs)
		if len(deploys) != 2 {
			t.Fatalf("want the workload and Redis Deployments, got %d", len(deploys))
		}
		for _, d := range deploys {
			if !hasLabels(d.Spec.Template.Labels, common) {
				t.Errorf("%s: pod labels %v lack commonLabels", d.Name, d.Spec.Template.Labels)
			}
			for k := range common {
				if _, ok := d.Spec.Selector.MatchLabels[k]; ok {
					t.Errorf("%s: commonLabels in the selector %v, which can never change", d.Name, d.Spec.Selector.MatchLabels)
				}
			}
		}
		for _, svc := range manifesttest.Find[*corev1.Service](r.objs) {
			if _, ok := svc.Spec.Selector["team"]; ok {
				t.Errorf("Service %s selects on commonLabels: %v", svc.Name, svc.Spec.Selector)
			}
		}
		pod := r.deploy.Spec.Template
		if pod.Labels["tier"] != "batch" {
			t.Errorf("pod labels %v lack podLabels tier=batch", pod.Labels)
		}
		wantAnn := map[string]string{"example.com/owner": "reporting", "example.com/retries": "3"}
		if !reflect.DeepEqual(pod.Annotations, wantAnn) {
			t.Errorf("pod annotations: want %v, got %v", wantAnn, pod.Annotations)
		}
		redis := findNamed(t, deploys, "rel-baton-redis")
		if _, ok := redis.Spec.Template.Labels["tier"]; ok || len(redis.Spec.Template.Annotations) > 0 {
			t.Errorf("podLabels and podAnnotations are the workload's, not Redis's: %v %v", redis.Spec.Template.Labels, redis.Spec.Template.Annotations)
		}
		cm := findNamed(t, manifesttest.Find[*corev1.ConfigMap](r.objs), "rel-baton-settings")
		if cm.Data["lock"] != release {
			t.Errorf("extraObjects: the ConfigMap's data went through tpl: want lock=%s, got %v", release, cm.Data)
		}
	},
}

// hasLabels reports whether set holds every label of want.
func hasLabels(set, want map[string]string) bool {
	for k, v := range want {
		if set[k] != v {
			return false
		}
	}
	return true
}

// checkDefaults checks what the default values render.
func checkDefaults(t *testing.T, r rendered) {
	spec := r.deploy.Spec.Template.Spec
	if *r.deploy.Spec.Replicas != 2 {
		t.Errorf("replicas: want 2, got %d", *r.deploy.Spec.Replicas)
	}
	wantEnv(t, r.baton, "BATON_LOCK", release)
	wantEnv(t, r.baton, "BATON_REDIS_ADDR", "redis:6379")
	wantEnv(t, r.baton, "BATON_KUBE_LABEL_KEY", "baton.dev/leader")
	if r.baton.Image != "ghcr.io/baton-dev/baton:0.1.0" {
		t.Errorf("image: want the appVersion tag, got %s", r.baton.Image)
	}
	ru := r.deploy.Spec.Strategy.RollingUpdate
	if ru.MaxSurge.String() != "1" || ru.MaxUnavailable.String() != "0" {
		t.Errorf("strategy: want maxSurge 1, maxUnavailable 0, got %v", ru)
	}
	for _, kind := range []string{"ServiceAccount", "Role", "RoleBinding"} {
		if !r.has(kind) {
			t.Errorf("missing %s", kind)
		}
	}
	for _, kind := range []string{"PodDisruptionBudget", "Service", "ServiceMonitor"} {
		if r.has(kind) {
			t.Errorf("%s is opt-in", kind)
		}
	}
	rb := manifesttest.One[*rbacv1.RoleBinding](t, r.objs)
	sa := manifesttest.One[*corev1.ServiceAccount](t, r.objs)
	role := manifesttest.One[*rbacv1.Role](t, r.objs)
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: r.ns}}
	if !reflect.DeepEqual(rb.Subjects, want) || rb.RoleRef.Name != role.Name || spec.ServiceAccountName != sa.Name {
		t.Errorf("RoleBinding %v -> %s must bind the pods' ServiceAccount %s in %s to Role %s", rb.Subjects, rb.RoleRef.Name, spec.ServiceAccountName, r.ns, role.Name)
	}
}

// rendered is one rendering of the chart with its workload.
type rendered struct {
	ns     string
	objs   []manifesttest.Object
	deploy *appsv1.Deployment // the workload
	// baton is the container baton runs in: its own, or in exec mode
	// the app's.
	baton  *corev1.Container
	app    *corev1.Container
	native bool
	// installer is exec mode's init container, which copies baton's
	// binary into the pod; nil in sidecar mode.
	installer *corev1.Container
}

// exec reports whether the chart rendered exec mode, or schedule mode,
// which runs baton in your container too.
func (r rendered) exec() bool { return r.installer != nil }

// schedule reports whether the chart rendered schedule mode: baton run
// --schedule=... in your container.
func (r rendered) schedule() bool {
	return r.exec() && slices.ContainsFunc(r.app.Command, func(a string) bool { return strings.HasPrefix(a, "--schedule=") })
}

func (r rendered) has(kind string) bool {
	return slices.ContainsFunc(r.objs, func(o manifesttest.Object) bool { return o.GVK.Kind == kind })
}

func newRendered(t *testing.T, ns string, objs []manifesttest.Object) rendered {
	t.Helper()
	r := rendered{ns: ns, objs: objs}
	for _, d := range manifesttest.Find[*appsv1.Deployment](objs) {
		if d.Labels["app.kubernetes.io/component"] != "redis" {
			r.deploy = d
		}
	}
	if r.deploy == nil {
		t.Fatal("no workload Deployment")
	}
	spec := &r.deploy.Spec.Template.Spec
	for i := range spec.InitContainers {
		switch spec.InitContainers[i].Name {
		case "baton":
			r.baton, r.native = &spec.InitContainers[i], true
		case "baton-install":
			r.installer = &spec.InitContainers[i]
		}
	}
	for i := range spec.Containers {
		switch spec.Containers[i].Name {
		case "baton":
			r.baton = &spec.Containers[i]
		case "app":
			r.app = &spec.Containers[i]
		}
	}
	if r.exec() {
		if r.baton != nil {
			t.Fatalf("exec mode: unexpected baton container %s", r.baton.Name)
		}
		r.baton = r.app
	}
	if r.baton == nil || r.app == nil {
		t.Fatal("want containers baton and app, or in exec mode app and the init container baton-install")
	}
	return r
}

// checkInvariants checks what every rendering must hold.
func checkInvariants(t *testing.T, r rendered) {
	t.Helper()
	spec := r.deploy.Spec.Template.Spec
	b := r.baton

	// Labels of helm create on every object; selector labels only name
	// and instance.
	for _, o := range r.objs {
		l := o.Raw.GetLabels()
		for _, k := range []string{"helm.sh/chart", "app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version", "app.kubernetes.io/managed-by"} {
			if l[k] == "" {
				t.Errorf("%s: missing label %s", o.Name(), k)
			}
		}
	}
	wantSel := map[string]string{"app.kubernetes.io/name": "baton", "app.kubernetes.io/instance": release}
	if !reflect.DeepEqual(r.deploy.Spec.Selector.MatchLabels, wantSel) {
		t.Errorf("selector: want %v, got %v", wantSel, r.deploy.Spec.Selector.MatchLabels)
	}

	// Native sidecar, classic container, or exec mode.
	if r.native {
		if b.RestartPolicy == nil || *b.RestartPolicy != corev1.ContainerRestartPolicyAlways {
			t.Error("native: baton needs restartPolicy Always")
		}
		if len(spec.InitContainers) != 1 || spec.InitContainers[0].Name != "baton" {
			t.Error("native: baton must be the only init container, so nothing else runs before it")
		}
	}
	if r.schedule() {
		checkSchedule(t, r)
	}
	if r.exec() {
		checkExec(t, r)
	} else {
		wantEnv(t, r.app, "BATON_URL", "http://127.0.0.1:4040")
		for _, name := range []string{"BATON_KILL_GRACE", "BATON_ON_EXIT"} {
			if v := envVar(b, name); v != nil {
				t.Errorf("sidecar mode: %s is a flag of baton run only, got %+v", name, v)
			}
		}
		if slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == "baton-bin" }) {
			t.Error("sidecar mode: unexpected volume baton-bin")
		}
	}
	if b.StartupProbe == nil || b.StartupProbe.HTTPGet == nil || b.StartupProbe.HTTPGet.Port.String() != "probes" {
		t.Errorf("startup probe: want httpGet on port probes, got %+v", b.StartupProbe)
	}
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{{"liveness", b.LivenessProbe, "/healthz"}, {"readiness", b.ReadinessProbe, "/readyz"}} {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "probes" {
			t.Errorf("%s probe: want GET %s on port probes, got %+v", p.name, p.path, p.probe)
		}
	}
	probes := slices.IndexFunc(b.Ports, func(p corev1.ContainerPort) bool { return p.Name == "probes" })
	if probes < 0 || b.Ports[probes].ContainerPort != 8081 || (!r.exec() && len(b.Ports) != 1) {
		t.Errorf("ports: want probes 8081 (alone, but in your container in exec mode), got %+v", b.Ports)
	}
	wantEnv(t, b, "BATON_PROBE_ADDR", ":8081")
	wantEnv(t, b, "BATON_API_ADDR", "127.0.0.1:4040")
	for _, e := range []struct{ name, path string }{{"POD_NAME", "metadata.name"}, {"POD_NAMESPACE", "metadata.namespace"}} {
		v := envVar(b, e.name)
		if v == nil || v.ValueFrom == nil || v.ValueFrom.FieldRef == nil || v.ValueFrom.FieldRef.FieldPath != e.path {
			t.Errorf("%s: want the downward API field %s, got %+v", e.name, e.path, v)
		}
	}
	for _, name := range []string{"BATON_REDIS_PASSWORD", "BATON_REDIS_SENTINEL_PASSWORD"} {
		if v := envVar(b, name); v != nil && (v.Value != "" || v.ValueFrom == nil || v.ValueFrom.SecretKeyRef == nil) {
			t.Errorf("%s must come from a Secret, got %+v", name, v)
		}
	}

	// Hardened baton, pod-level seccomp. In exec mode baton's own
	// container is the installer; the app's is yours.
	hardened := b
	if r.exec() {
		hardened = r.installer
	}
	sc := hardened.SecurityContext
	if sc == nil || !deref(sc.RunAsNonRoot) || sc.RunAsUser == nil || *sc.RunAsUser != 65532 || !deref(sc.ReadOnlyRootFilesystem) ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation || sc.Capabilities == nil ||
		!reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s securityContext is not hardened: %+v", hardened.Name, sc)
	}
	if psc := spec.SecurityContext; psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault || !deref(psc.RunAsNonRoot) {
		t.Errorf("pod securityContext: want runAsNonRoot and seccomp RuntimeDefault, got %+v", psc)
	}
	res := hardened.Resources
	if res.Requests.Cpu().String() != "10m" || res.Requests.Memory().String() != "32Mi" || res.Limits.Memory().String() != "64Mi" {
		t.Errorf("%s resources: %+v", hardened.Name, res)
	}

	// Every mount of baton has its volume, read-only. In exec mode the
	// container's other mounts are yours.
	for _, m := range b.VolumeMounts {
		if r.exec() && !strings.HasPrefix(m.Name, "baton-") {
			continue
		}
		if !m.ReadOnly || !slices.ContainsFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == m.Name }) {
			t.Errorf("mount %s: want read-only, of a volume of the pod", m.Name)
		}
	}

	// Exactly the publisher's rules, and the Lease's with kubeLease; on
	// that backend, nothing of Redis.
	checkBackend(t, r)

	// Readiness is "connected", whatever the values: every replica that
	// reaches Redis is Ready, so that rollouts complete (rollout_test.go).
	// Leader-gated readiness stalled them on real pods.
	wantEnv(t, b, "BATON_READY_WHEN", "connected")
	if len(spec.ReadinessGates) != 0 {
		t.Errorf("readinessGates: want none, got %v", spec.ReadinessGates)
	}
	if p := b.StartupProbe.HTTPGet.Path; p != "/readyz" {
		t.Errorf("startup probe: the app should start once Redis is reachable (/readyz), got %s", p)
	}
	if r.deploy.Spec.ProgressDeadlineSeconds == nil {
		t.Error("no progressDeadlineSeconds")
	}
}

// checkExec checks what exec mode must render: the installer as the only
// init container, copying baton's binary into the baton-bin emptyDir; no
// baton container; your container running baton run -- app.command, with
// the binary mounted read-only and baton's environment.
func checkExec(t *testing.T, r rendered) {
	t.Helper()
	spec := r.deploy.Spec.Template.Spec
	in := r.installer
	if len(spec.InitContainers) != 1 || len(spec.Containers) != 1 {
		t.Errorf("exec: want the installer alone as init container and the app alone as container, got %d and %d", len(spec.InitContainers), len(spec.Containers))
	}
	if in.RestartPolicy != nil {
		t.Errorf("exec: the installer must run to completion before the app starts, got restartPolicy %v", *in.RestartPolicy)
	}
	if !strings.HasPrefix(in.Image, "ghcr.io/baton-dev/baton:") {
		t.Errorf("exec: the installer runs baton's image, got %s", in.Image)
	}
	if want := []string{imageEntrypoint(t), "install", "/baton-bin/baton"}; !reflect.DeepEqual(in.Command, want) || len(in.Args) != 0 {
		t.Errorf("exec: installer command %q args %q, want %q", in.Command, in.Args, want)
	}
	if want := []corev1.VolumeMount{{Name: "baton-bin", MountPath: "/baton-bin"}}; !reflect.DeepEqual(in.VolumeMounts, want) {
		t.Errorf("exec: installer mounts %+v, want %+v (writable)", in.VolumeMounts, want)
	}
	vol := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == "baton-bin" })
	if vol < 0 || spec.Volumes[vol].EmptyDir == nil {
		t.Errorf("exec: want an emptyDir volume baton-bin, got %+v", spec.Volumes)
	}
	app := r.app
	if !slices.ContainsFunc(app.VolumeMounts, func(m corev1.VolumeMount) bool {
		return m.Name == "baton-bin" && m.MountPath == "/baton-bin" && m.ReadOnly
	}) {
		t.Errorf("exec: the app must mount baton-bin read-only at /baton-bin, got %+v", app.VolumeMounts)
	}
	sep := slices.Index(app.Command, "--")
	if !r.schedule() && sep != 2 || sep < 2 || sep == len(app.Command)-1 || !reflect.DeepEqual(app.Command[:2], []string{"/baton-bin/baton", "run"}) {
		t.Errorf("exec: want the command /baton-bin/baton run [--schedule=...] -- CMD..., got %q", app.Command)
	}
	if app.Lifecycle != nil {
		t.Errorf("exec: baton stops the command itself; unexpected lifecycle %+v", app.Lifecycle)
	}
	want := []string{"BATON_LOCK", "BATON_REDIS_ADDR"}
	if r.kubeLease() {
		want = []string{"BATON_LOCK", "BATON_BACKEND"}
	}
	if !r.schedule() {
		want = append(want, "BATON_ON_EXIT")
	}
	for _, name := range want {
		if envVar(app, name) == nil {
			t.Errorf("exec: the app container lacks baton's %s", name)
		}
	}
	// baton passes the command no BATON_* variable of the container.
	if v := envVar(app, "BATON_URL"); v != nil {
		t.Errorf("exec: BATON_URL would not reach the command (it gets BATON_API_URL), got %+v", v)
	}
}

// checkSchedule checks what schedule mode must not render: what baton run
// --schedule refuses (cmd/sidecar's scheduleRules: --on-exit, --kube
// true, --redis-min-replicas-ack, --ready-when but connected), and what
// means nothing without an election (the leader label's settings, the
// publisher's Role, the leader Service).
func checkSchedule(t *testing.T, r rendered) {
	t.Helper()
	for _, name := range []string{"BATON_ON_EXIT", "BATON_KUBE", "BATON_KUBE_LABEL_KEY", "BATON_REDIS_MIN_REPLICAS_ACK"} {
		if v := envVar(r.baton, name); v != nil {
			t.Errorf("schedule: %s is refused by, or means nothing to, baton run --schedule; got %+v", name, v)
		}
	}
	for _, kind := range []string{"Role", "RoleBinding"} {
		if r.has(kind) {
			t.Errorf("schedule: nothing publishes on the pods, unexpected %s", kind)
		}
	}
	for _, svc := range manifesttest.Find[*corev1.Service](r.objs) {
		if _, ok := svc.Spec.Selector["baton.dev/leader"]; ok {
			t.Errorf("schedule: no pod leads, unexpected leader Service %s", svc.Name)
		}
	}
}

// imageEntrypoint is the ENTRYPOINT of the repository's Dockerfile: the
// path of baton's binary in its image, which the installer runs.
func imageEntrypoint(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(manifesttest.ModuleRoot(t), "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^ENTRYPOINT \["([^"]+)"\]`).FindSubmatch(b)
	if m == nil {
		t.Fatal(`no ENTRYPOINT ["..."] in the Dockerfile`)
	}
	return string(m[1])
}

// TestChart lints and renders the chart with the default values and each
// file of baton/ci, decodes every object strictly, checks what it renders,
// and has the API server accept it (server-side dry-run create).
func TestChart(t *testing.T) {
	for _, c := range valuesCases(t) {
		t.Run(c.name, func(t *testing.T) {
			if err := helmLint(t, chartDir, c.args()...); err != nil {
				t.Fatal(err)
			}
			r := newRendered(t, "baton-test", render(t, "baton-test", c.args()...))
			checkInvariants(t, r)
			if c.check != nil {
				c.check(t, r)
			}
			t.Run("dry-run", func(t *testing.T) {
				cl := env.Client(t)
				// Render for a namespace of the API server, so that
				// the RoleBinding's subject names it.
				ns := manifesttest.Namespace(t, cl, "baton-chart-")
				if err := manifesttest.DryRunCreate(t.Context(), cl, ns, render(t, ns, c.args()...)); err != nil {
					t.Errorf("the API server rejects the chart:\n%v", err)
				}
			})
		})
	}
}

// TestSchemaRejects: values.schema.json (and the template's own checks)
// turn bad values away, in both helm template and helm lint.
func TestSchemaRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"bad redis mode", []string{"--set", "redis.mode=master"}, "redis.mode"},
		{"negative replicas", []string{"--set", "replicaCount=-1"}, "replicaCount"},
		{"zero replicas", []string{"--set", "replicaCount=0"}, "replicaCount"},
		{"replicas as a string", []string{"--set-string", "replicaCount=2"}, "replicaCount"},
		{"duration without a unit", []string{"--set", "timings.leaseTTL=15"}, "leaseTTL"},
		{"duration nonsense", []string{"--set", "timings.renewInterval=soon"}, "renewInterval"},
		{"lock with a slash", []string{"--set", "lock=jobs/nightly"}, "lock"},
		{"lock too long", []string{"--set", "lock=" + strings.Repeat("a", 129)}, "lock"},
		{"unknown top-level key", []string{"--set", "replicas=3"}, "replicas"},
		{"unknown nested key", []string{"--set", "sidecar.nativ=false"}, "nativ"},
		{"bad logFormat", []string{"--set", "logFormat=xml"}, "logFormat"},
		{"bad logLevel", []string{"--set", "logLevel=trace"}, "logLevel"},
		{"bad kube.publish", []string{"--set", "kube.publish=yes"}, "publish"},
		{"sentinel without master name", []string{"--set", "redis.mode=sentinel"}, "masterName"},
		{"bad redis address", []string{"--set", "redis.addr=redis"}, "addr"},
		{"bad pull policy", []string{"--set", "image.pullPolicy=Sometimes"}, "pullPolicy"},
		{"port out of range", []string{"--set", "sidecar.probePort=70000"}, "probePort"},
		{"commonLabels replacing a label of the chart", []string{"--set", `commonLabels.app\.kubernetes\.io/name=other`}, "app.kubernetes.io/name"},
		{"commonLabels with a bad key", []string{"--set", `commonLabels.bad\ key=x`}, "bad key"},
		{"podLabels value not a string", []string{"--set", "podLabels.tier=1"}, "podLabels"},
		{"podLabels with the leader label", []string{"--set-string", `podLabels.baton\.dev/leader=true`}, "baton.dev/leader"},
		{"podAnnotations value not a string", []string{"--set", "podAnnotations.owner=true"}, "podAnnotations"},
		{"extraObjects item a number", []string{"--set", "extraObjects[0]=1"}, "extraObjects"},
		{"bad mode", []string{"--set", "mode=inline"}, "mode"},
		{"exec mode without app.command", []string{"--set", "mode=exec", "--set", "app.command=null"}, "command"},
		{"exec mode with an empty app.command", []string{"--set", "mode=exec", "--set-json", "app.command=[]"}, "command"},
		{"bad onExit", []string{"--set", "mode=exec", "--set", "exec.onExit=sometimes"}, "onExit"},
		{"killGrace without a unit", []string{"--set", "mode=exec", "--set", "exec.killGrace=4"}, "killGrace"},
		{"killGrace nonsense", []string{"--set", "mode=exec", "--set", "exec.killGrace=soon"}, "killGrace"},
		{"killGrace zero", []string{"--set", "mode=exec", "--set", "exec.killGrace=0.0s"}, "killGrace"},
		{"killGrace a number", []string{"--set", "mode=exec", "--set-json", "exec.killGrace=4"}, "killGrace"},
		{"schedule mode without a spec", []string{"--set", "mode=schedule"}, "spec"},
		{"schedule mode without app.command", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "app.command=null"}, "command"},
		{"schedule spec of 4 fields", []string{"--set", "mode=schedule", "--set-string", "schedule.spec=0 3 * *"}, "spec"},
		{"schedule spec of 7 fields", []string{"--set", "mode=schedule", "--set-string", "schedule.spec=0 0 3 * * * 2030"}, "spec"},
		{"schedule spec an unknown macro", []string{"--set", "mode=schedule", "--set", "schedule.spec=@nightly"}, "spec"},
		{"schedule spec naming a time zone", []string{"--set", "mode=schedule", "--set-string", "schedule.spec=CRON_TZ=UTC 0 3 * * *"}, "spec"},
		{"schedule spec not a string", []string{"--set", "mode=schedule", "--set-json", "schedule.spec=3"}, "spec"},
		{"bad time zone", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "schedule.timeZone=Europe/../etc"}, "timeZone"},
		{"maxAttempts 0", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "schedule.maxAttempts=0"}, "maxAttempts"},
		{"maxAttempts 101", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "schedule.maxAttempts=101"}, "maxAttempts"},
		{"maxAttempts a string", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set-string", "schedule.maxAttempts=3"}, "maxAttempts"},
		{"bad catchUp", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "schedule.catchUp=all"}, "catchUp"},
		{"attemptDeadline without a unit", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "schedule.attemptDeadline=60"}, "attemptDeadline"},
		{"unknown schedule key", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "schedule.every=10s"}, "every"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := helmTemplate(t, chartDir, "default", c.args...)
			if err == nil {
				t.Fatalf("helm template accepted %v", c.args)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("helm template: the error should name %q:\n%v", c.want, err)
			}
			if err := helmLint(t, chartDir, c.args...); err == nil {
				t.Errorf("helm lint accepted %v", c.args)
			}
		})
	}
}

// TestTemplateRejects: what only the templates can check, since the
// schema cannot compare one value with another. helm lint reports a
// template's fail as information only, so helm template alone is asked.
func TestTemplateRejects(t *testing.T) {
	for _, c := range []struct {
		name string
		args []string
		want string // in the error
	}{
		{"podLabels with a custom leader label", []string{
			"--set", "kube.labelKey=example.com/leader", "--set-string", `podLabels.example\.com/leader=true`,
		}, "kube.labelKey"},
		// The second guard behind the schema's.
		{"exec mode without app.command, past the schema", []string{
			"--skip-schema-validation", "--set", "mode=exec", "--set", "app.command=null",
		}, "mode=exec needs app.command"},
		{"killGrace zero, past the schema", []string{
			"--skip-schema-validation", "--set", "mode=exec", "--set", "exec.killGrace=0s",
		}, "above 0"},
		// killGrace against the timings, defaulted (15s - 2*15s/3 = 5s,
		// releaseTimeout 5s: a budget of 5s, a slack of 1s) or set.
		{"killGrace in the default slack", []string{"--set", "mode=exec", "--set", "exec.killGrace=4001ms"},
			"exec.killGrace 4001ms must be at most 4s"},
		{"killGrace at the default margin", []string{"--set", "mode=exec", "--set", "exec.killGrace=5s"},
			"timings.leaseTTL - timings.renewDeadline (15s - 2*leaseTTL/3 = 5s)"},
		{"killGrace at the margin, a slack of a quarter", []string{
			"--set", "mode=exec", "--set", "timings.leaseTTL=9s", "--set", "timings.renewDeadline=6s", "--set", "exec.killGrace=2251ms",
		}, "must be at most 2.25s: your command's stop must fit in the smaller of timings.leaseTTL - timings.renewDeadline (9s - 6s = 3s)"},
		{"killGrace at the release timeout", []string{
			"--set", "mode=exec", "--set", "timings.releaseTimeout=2s", "--set", "exec.killGrace=2s",
		}, "timings.releaseTimeout (2s), less a slack of a quarter of that, at most 1s, for SIGKILL, the reap and a late step-down timer (0.5s here)"},
		{"killGrace above the release timeout, in minutes", []string{
			"--set", "mode=exec", "--set", "timings.leaseTTL=1h", "--set", "timings.releaseTimeout=1m", "--set", "exec.killGrace=1m0.5s",
		}, "must be at most 59s"},
		// Schedule mode: what baton run --schedule refuses, and what
		// means nothing without an election.
		{"schedule mode without a spec, past the schema", []string{
			"--skip-schema-validation", "--set", "mode=schedule",
		}, "mode=schedule needs schedule.spec"},
		{"schedule mode without app.command, past the schema", []string{
			"--skip-schema-validation", "--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "app.command=null",
		}, "mode=schedule needs app.command"},
		{"schedule with onExit", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "exec.onExit=recampaign"},
			`exec.onExit "recampaign" does not apply with mode=schedule`},
		{"schedule with the leader Service", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "leaderService.enabled=true"},
			"leaderService.enabled cannot be true with mode=schedule"},
		{"schedule with kube.publish true", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "kube.publish=true"},
			"kube.publish cannot be true with mode=schedule"},
		{"schedule with kube.publish \"true\"", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set-string", "kube.publish=true"},
			"kube.publish cannot be true with mode=schedule"},
		{"schedule with minReplicasAck", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "redis.minReplicasAck=1"},
			"redis.minReplicasAck is not supported with mode=schedule"},
		{"schedule with a lease TTL in microseconds", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "timings.leaseTTL=3000500us"},
			"timings.leaseTTL 3000500us must be a whole number of milliseconds, at most 24h"},
		{"schedule with a lease TTL over a day", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "timings.leaseTTL=24h1ms"},
			"timings.leaseTTL 24h1ms must be a whole number of milliseconds, at most 24h"},
		{"schedule with an attempt deadline in microseconds", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "schedule.attemptDeadline=1.5ms"},
			"schedule.attemptDeadline 1.5ms must be a whole number of milliseconds"},
		{"schedule with a killGrace past the default slack", []string{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "exec.killGrace=4001ms"},
			"exec.killGrace 4001ms must be at most 4s"},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := helmTemplate(t, chartDir, "default", c.args...)
			if err == nil {
				t.Fatalf("helm template accepted %v", c.args)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("helm template: the error should name %q:\n%v", c.want, err)
			}
		})
	}
}

// TestSchemaAccepts is the control of TestSchemaRejects: good values near
// the edges pass.
func TestSchemaAccepts(t *testing.T) {
	for _, args := range [][]string{
		{"--set", "timings.leaseTTL=1m30s", "--set", "timings.renewInterval=500ms", "--set", "timings.renewDeadline=1m"},
		{"--set", "lock=" + strings.Repeat("a", 128)},
		{"--set", "lock=Jobs.nightly_report-2"},
		{"--set", "replicaCount=1"},
		{"--set", "kube.publish=false"},
		{"--set", "kube.publish=true"},
		{"--set", "redis.mode=sentinel", "--set", "redis.masterName=mymaster", "--set", "redis.addr=s1:26379\\,s2:26379"},
		{"--set", "strategy.maxSurge=25%", "--set", "strategy.maxUnavailable=1"},
		{"--set", "podDisruptionBudget.enabled=true", "--set", "podDisruptionBudget.minAvailable=1"},
		{"--set", "commonLabels.team=reporting", "--set-string", "podLabels.tier=batch", "--set-string", "podAnnotations.retries=3"},
		{"--set", `commonLabels.example\.com/team=reporting`, "--set-json", `extraObjects=[{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}]`},
		{"--set", "mode=exec"},
		{"--set", "mode=exec", "--set", "exec.killGrace="},
		{"--set", "mode=exec", "--set", "timings.leaseTTL=3s", "--set", "exec.killGrace="},
		{"--set", "mode=exec", "--set", "exec.onExit=restart", "--set", "exec.killGrace=4s"},
		{"--set", "mode=exec", "--set", "exec.onExit=recampaign", "--set", "exec.killGrace=1ns"},
		{"--set", "mode=exec", "--set", "timings.leaseTTL=1h", "--set", "timings.releaseTimeout=10m", "--set", "exec.killGrace=9m59s"},
		{"--set", "mode=schedule", "--set", "schedule.spec=@every 10s"},
		{"--set", "mode=schedule", "--set-string", "schedule.spec=*/10 * * * * *", "--set", "schedule.maxAttempts=1", "--set", "schedule.catchUp=last"},
		{"--set", "mode=schedule", "--set-string", "schedule.spec= 0 3 * * 1-5 ", "--set", "schedule.timeZone=America/Argentina/Buenos_Aires", "--set", "schedule.maxAttempts=100"},
		{"--set", "mode=schedule", "--set", "schedule.spec=@annually", "--set", "schedule.timeZone=Etc/GMT+5", "--set", "schedule.attemptDeadline=90m"},
		{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "timings.leaseTTL=24h", "--set", "timings.releaseTimeout=1m", "--set", "exec.killGrace=30s"},
		{"--set", "mode=schedule", "--set", "schedule.spec=@daily", "--set", "kube.publish=false", "--set", "redis.minReplicasAck=0", "--set", "exec.onExit=exit"},
		// The schedule's values are ignored in the other modes.
		{"--set", "mode=exec", "--set", "schedule.catchUp=last"},
		// What the removed values meant by default is still accepted.
		{"--set", "readyWhen=connected", "--set", "readinessGate.enabled=false"},
		{"--set", "mode=exec", "--set", "readyWhen=connected", "--set", "readinessGate.enabled=false", "--set-json", "leaderGatedStrategy={}"},
		{"--set", "sidecar.extraEnv[0].name=BATON_READY_WHEN", "--set", "sidecar.extraEnv[0].value=connected"},
		// In sidecar mode app.env is the app's, not baton's.
		{"--set", "app.env[0].name=BATON_READY_WHEN", "--set", "app.env[0].value=leader"},
	} {
		if _, err := helmTemplate(t, chartDir, "default", args...); err != nil {
			t.Errorf("%v: %v", args, err)
		}
	}
}

// TestExtraObjects: extraObjects render, maps and strings alike, through
// tpl, and the API server accepts them.
func TestExtraObjects(t *testing.T) {
	objects := `[
		{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "{{ include \"baton.fullname\" . }}-map"}, "data": {"ns": "{{ .Release.Namespace }}"}},
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-string\ndata:\n  replicas: \"{{ .Values.replicaCount }}\"\n"
	]`
	args := []string{"--set-json", "extraObjects=" + objects}
	cms := manifesttest.Find[*corev1.ConfigMap](render(t, "baton-test", args...))
	if len(cms) != 2 {
		t.Fatalf("want 2 ConfigMaps, got %d", len(cms))
	}
	if m := findNamed(t, cms, "rel-baton-map"); m.Data["ns"] != "baton-test" {
		t.Errorf("map item: want data ns=baton-test, got %v", m.Data)
	}
	if s := findNamed(t, cms, "rel-string"); s.Data["replicas"] != "2" {
		t.Errorf("string item: want data replicas=2, got %v", s.Data)
	}
	t.Run("dry-run", func(t *testing.T) {
		cl := env.Client(t)
		ns := manifesttest.Namespace(t, cl, "baton-extra-")
		if err := manifesttest.DryRunCreate(t.Context(), cl, ns, render(t, ns, args...)); err != nil {
			t.Errorf("the API server rejects the extra objects:\n%v", err)
		}
	})
}

// TestNotes: helm install (a server-side dry run against the API server)
// accepts the chart and prints NOTES.txt, which shows how to see the
// leader, or in schedule mode the runs.
func TestNotes(t *testing.T) {
	helm := manifesttest.Helm(t)
	kubeconfig := env.Kubeconfig(t)
	leader := []string{"-L baton.dev/leader", "127.0.0.1:4040/leader", "kubectl exec", "kubectl port-forward"}
	for _, c := range []struct {
		name   string
		args   []string
		want   []string
		refuse []string // not in the notes
	}{
		{"defaults", nil, []string{"every replica that reaches Redis is Ready", "set leaderService.enabled=true"}, nil},
		{"leader service, bundled Redis", []string{
			"--set", "leaderService.enabled=true", "--set", "redis.enabled=true",
		}, []string{"rel-baton-leader", "NOT FOR PRODUCTION", "every replica that reaches Redis is Ready"}, nil},
		{"classic", []string{"--set", "sidecar.native=false"}, []string{"sidecar.native=false"}, nil},
		{"kubeLease", []string{"--set", "backend=kubeLease"}, append([]string{"on the Lease baton-notes-", "kubectl get lease", "every replica that reaches the API server is Ready"}, leader...),
			[]string{"Redis at"}},
		{"exec", []string{"--set", "mode=exec", "--set", "exec.onExit=restart"}, []string{"mode=exec", "SIGKILL after baton's default grace", "on exit: restart", "BATON_FENCE"}, nil},
		{"exec with a grace", []string{"--set", "mode=exec", "--set", "exec.killGrace=2s"}, []string{"SIGKILL after 2s"}, nil},
		{"schedule", []string{"--set", "mode=schedule", "--set", "schedule.spec=@every 10s", "--set", "schedule.maxAttempts=2", "--set", "redis.enabled=true"},
			[]string{"once per window of the schedule\n\"@every 10s\" (UTC)", "up to 2 per window", "SIGKILL after baton's default grace",
				"catch-up none", "no leader label, condition or Service", "kubectl logs", "BATON_RUN_WINDOW", "NOT FOR PRODUCTION"},
			leader},
	} {
		t.Run(c.name, func(t *testing.T) {
			ns := manifesttest.Namespace(t, env.Client(t), "baton-notes-")
			out, err := manifesttest.Run(helm, append([]string{"install", release, chartDir, "--dry-run=server", "--kubeconfig", kubeconfig, "--namespace", ns}, c.args...)...)
			if err != nil {
				t.Fatal(err)
			}
			_, notes, ok := strings.Cut(string(out), "NOTES:")
			if !ok {
				t.Fatalf("no NOTES in:\n%s", out)
			}
			want := append([]string{"-n " + ns}, c.want...)
			if c.refuse == nil {
				want = append(want, leader...)
			}
			for _, want := range want {
				if !strings.Contains(notes, want) {
					t.Errorf("NOTES lack %q:\n%s", want, notes)
				}
			}
			for _, no := range c.refuse {
				if strings.Contains(notes, no) {
					t.Errorf("NOTES have %q:\n%s", no, notes)
				}
			}
		})
	}
}

// TestInjection renders examples/nightly-report, a chart of a user's own
// that depends on baton and injects the sidecar with its named templates,
// as charts/baton/README.md shows.
func TestInjection(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nightly-report")
	copyDir(t, filepath.Join("examples", "nightly-report"), dir)
	copyDir(t, chartDir, filepath.Join(dir, "charts", "baton"))

	for _, c := range []struct {
		name      string
		args      []string
		tls       bool
		kubeLease bool
	}{
		{"defaults", nil, false, false},
		{"tls", []string{
			"--set", "baton.redis.tls.enabled=true", "--set", "baton.redis.tls.ca.secretName=redis-ca",
			"--set", "baton.redis.tls.clientCert.secretName=client",
		}, true, false},
		{"kubeLease", []string{
			"--set", "baton.backend=kubeLease", "--set", "baton.redis.addr=", "--set", "baton.redis.password.existingSecret=",
		}, false, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := helmLint(t, dir, c.args...); err != nil {
				t.Fatal(err)
			}
			cl := env.Client(t)
			ns := manifesttest.Namespace(t, cl, "baton-inject-")
			out, err := helmTemplate(t, dir, ns, c.args...)
			if err != nil {
				t.Fatal(err)
			}
			objs, err := manifesttest.Decode(out)
			if err != nil {
				t.Fatal(err)
			}
			d := manifesttest.One[*appsv1.Deployment](t, objs) // baton's own workload is off
			if d.Name != "rel-report" {
				t.Fatalf("want the example's Deployment, got %s", d.Name)
			}
			spec := d.Spec.Template.Spec
			if len(spec.InitContainers) != 1 || spec.InitContainers[0].Name != "baton" || spec.InitContainers[0].RestartPolicy == nil {
				t.Fatalf("want baton as the native sidecar, got %+v", spec.InitContainers)
			}
			b := &spec.InitContainers[0]
			if b.Image != "ghcr.io/baton-dev/baton:0.1.0" {
				t.Errorf("image: want baton's appVersion tag, got %s", b.Image)
			}
			wantEnv(t, b, "BATON_LOCK", release)
			wantEnv(t, b, "BATON_LEASE_TTL", "10s")
			if c.kubeLease {
				wantEnv(t, b, "BATON_BACKEND", "kube-lease")
				for _, e := range b.Env {
					if strings.HasPrefix(e.Name, "BATON_REDIS_") {
						t.Errorf("kubeLease: unexpected %s", e.Name)
					}
				}
			} else {
				wantEnv(t, b, "BATON_REDIS_ADDR", "redis.infra.svc:6379")
				wantSecretEnv(t, b, "BATON_REDIS_PASSWORD", "redis-auth", "password")
			}
			wantEnv(t, &spec.Containers[0], "BATON_URL", "http://127.0.0.1:4040")
			sa := manifesttest.One[*corev1.ServiceAccount](t, objs)
			if spec.ServiceAccountName != sa.Name {
				t.Errorf("serviceAccountName %s, want baton's %s", spec.ServiceAccountName, sa.Name)
			}
			if got := len(spec.Volumes); (got == 2) != c.tls {
				t.Errorf("volumes: %d with tls=%v", got, c.tls)
			}
			if got := len(spec.ReadinessGates); got != 0 {
				t.Errorf("readinessGates: want none, got %d", got)
			}
			wantEnv(t, b, "BATON_READY_WHEN", "connected")
			for _, role := range manifesttest.Find[*rbacv1.Role](objs) {
				if want := wantRules(c.kubeLease, release); !reflect.DeepEqual(role.Rules, want) {
					t.Errorf("Role rules %+v, want %+v", role.Rules, want)
				}
			}
			if err := manifesttest.DryRunCreate(t.Context(), cl, ns, objs); err != nil {
				t.Errorf("the API server rejects the example:\n%v", err)
			}
		})
	}
	// baton.sidecar checks the backend in a parent chart too: the
	// example's Redis address does not apply to a Lease.
	t.Run("kubeLease with the example's Redis", func(t *testing.T) {
		_, err := helmTemplate(t, dir, "default", "--set", "baton.backend=kubeLease")
		if err == nil || !strings.Contains(err.Error(), "redis.addr does not apply with backend=kubeLease") {
			t.Errorf("want the refusal of redis.addr, got %v", err)
		}
	})
}

// TestEnvNamesAreFlags: every BATON_* variable the chart gives baton is the
// environment fallback of one of its flags, as the baton binary itself
// lists them in --help (baton run --help in exec mode), or one of its
// environment-only secrets. baton ignores unknown BATON_* variables, so a
// misspelt one would silently do nothing.
func TestEnvNamesAreFlags(t *testing.T) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("no go command: %v", err)
	}
	bin := filepath.Join(t.TempDir(), "baton")
	root := manifesttest.ModuleRoot(t)
	if _, err := manifesttest.Run(goBin, "build", "-C", root, "-o", bin, "./cmd/sidecar"); err != nil {
		t.Fatal(err)
	}
	sidecarEnv := envOfFlags(t, bin, "--help")
	runEnv := envOfFlags(t, bin, "run", "--help")
	if !runEnv["BATON_KILL_GRACE"] || !runEnv["BATON_ON_EXIT"] {
		t.Fatal("baton run --help lists no --kill-grace and --on-exit")
	}
	type renderCase struct {
		name string
		args []string
	}
	cases := []renderCase{{"exec mode with the default command", []string{"--set", "mode=exec"}}}
	for _, c := range valuesCases(t) {
		cases = append(cases, renderCase{c.name, c.args()})
	}
	cases = append(cases, renderCase{"exec mode on a Lease", []string{"--set", "mode=exec", "--set", "backend=kubeLease"}})
	cases = append(cases, renderCase{"schedule mode with every flag", []string{"--set", "mode=schedule", "--set-string", "schedule.spec=0 3 * * *",
		"--set", "schedule.timeZone=UTC", "--set", "schedule.attemptDeadline=1h", "--set", "exec.killGrace=1s"}})
	for _, c := range cases {
		r := newRendered(t, "default", render(t, "default", c.args...))
		known, help := sidecarEnv, "baton --help"
		if r.exec() {
			known, help = runEnv, "baton run --help"
		}
		// The schedule's flags are baton run's arguments (baton.execCommand).
		if r.schedule() {
			for _, a := range r.app.Command[2:slices.Index(r.app.Command, "--")] {
				name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
				if !known[envName(name)] {
					t.Errorf("%s: %s is not a flag of %s", c.name, a, help)
				}
			}
		}
		for _, e := range r.baton.Env {
			if strings.HasPrefix(e.Name, "BATON_") && !known[e.Name] {
				t.Errorf("%s: %s is not a flag of %s", c.name, e.Name, help)
			}
		}
	}
}

// envName is a flag's BATON_<FLAG> fallback.
func envName(flag string) string {
	return "BATON_" + strings.ToUpper(strings.ReplaceAll(flag, "-", "_"))
}

// envOfFlags runs bin with args (a --help) and returns the BATON_<FLAG>
// of every flag its usage lists, and the environment-only secrets.
func envOfFlags(t *testing.T, bin string, args ...string) map[string]bool {
	t.Helper()
	// --help prints the usage on stderr; the exit code does not matter.
	usage, _ := exec.Command(bin, args...).CombinedOutput()
	known := map[string]bool{"BATON_REDIS_PASSWORD": true, "BATON_REDIS_SENTINEL_PASSWORD": true}
	for _, m := range regexp.MustCompile(`(?m)^\s+-([a-z0-9-]+)`).FindAllStringSubmatch(string(usage), -1) {
		known[envName(m[1])] = true
	}
	if !known["BATON_REDIS_ADDR"] || !known["BATON_KUBE_LABEL_KEY"] {
		t.Fatalf("could not read the flags from baton %s:\n%s", strings.Join(args, " "), usage)
	}
	return known
}

// TestExecTimingsAreBatons: the chart's check of exec.killGrace is baton
// run's (cmd/sidecar's maxKillGrace), with baton's own defaults for the
// timings left empty (pkg/election): the stop's budget is
// min(leaseTTL - renewDeadline, releaseTimeout), and the grace may take it
// less a slack of a quarter of it, at most 1s. At that bound, to the
// nanosecond, the chart accepts; 1ns above, it refuses. An empty
// killGrace sets no BATON_KILL_GRACE: baton run's default, which follows
// the timings, applies.
func TestExecTimingsAreBatons(t *testing.T) {
	r := newRendered(t, "default", render(t, "default", "--set", "mode=exec"))
	if v := envVar(r.baton, "BATON_KILL_GRACE"); v != nil {
		t.Errorf("exec.killGrace empty: want no BATON_KILL_GRACE (baton's default), got %+v", v)
	}
	wantEnv(t, r.baton, "BATON_ON_EXIT", string(supervisor.OnExitExit))
	r = newRendered(t, "default", render(t, "default", "--set", "mode=exec", "--set", "exec.killGrace=1500ms"))
	wantEnv(t, r.baton, "BATON_KILL_GRACE", "1500ms")

	for _, c := range []struct {
		name                                string
		leaseTTL, renewDeadline, releaseTTL time.Duration // 0: empty, baton's default
	}{
		{"all defaults: a slack of 1s", 0, 0, 0},
		{"leaseTTL 10s: the default deadline rounds down", 10 * time.Second, 0, 0},
		{"leaseTTL 7s, releaseTimeout 2s: a slack of a quarter", 7 * time.Second, 0, 2 * time.Second},
		{"leaseTTL 3s", 3 * time.Second, 0, 0},
		{"all set", 12 * time.Second, 9500 * time.Millisecond, 4 * time.Second},
	} {
		t.Run(c.name, func(t *testing.T) {
			ttl, deadline, release := c.leaseTTL, c.renewDeadline, c.releaseTTL
			args := []string{"--set", "mode=exec", "--set", "timings.leaseTTL=" + durationValue(ttl),
				"--set", "timings.renewDeadline=" + durationValue(deadline), "--set", "timings.releaseTimeout=" + durationValue(release)}
			// What election.Config.validate makes of zero durations.
			if ttl == 0 {
				ttl = election.DefaultLeaseTTL
			}
			if deadline == 0 {
				deadline = 2 * ttl / 3
			}
			if release == 0 {
				release = election.DefaultReleaseTimeout
			}
			budget := min(ttl-deadline, release)
			bound := budget - min(time.Second, budget/4)
			grace := func(d time.Duration) []string {
				return append(slices.Clone(args), "--set", fmt.Sprintf("exec.killGrace=%dns", d.Nanoseconds()))
			}
			if _, err := helmTemplate(t, chartDir, "default", grace(bound)...); err != nil {
				t.Errorf("killGrace at the bound %v: %v", bound, err)
			}
			if _, err := helmTemplate(t, chartDir, "default", grace(bound+1)...); err == nil || !strings.Contains(err.Error(), "exec.killGrace") {
				t.Errorf("killGrace %v, 1ns above the bound %v: want the chart's refusal, got %v", bound+1, bound, err)
			}
			if _, err := helmTemplate(t, chartDir, "default", args...); err != nil {
				t.Errorf("killGrace empty: %v", err)
			}
		})
	}
}

// durationValue is d as a value of timings: empty for 0.
func durationValue(d time.Duration) string {
	if d == 0 {
		return ""
	}
	return d.String()
}

// TestRoleMatchesPublisher: the chart's Role grants exactly what the
// Kubernetes publisher needs (pkg/kube.RequiredRules).
func TestRoleMatchesPublisher(t *testing.T) {
	role := manifesttest.One[*rbacv1.Role](t, render(t, "default"))
	if !reflect.DeepEqual(role.Rules, kube.RequiredRules) {
		t.Errorf("Role rules:\n got %+v\nwant %+v", role.Rules, kube.RequiredRules)
	}
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

func wantEnv(t *testing.T, c *corev1.Container, name, value string) {
	t.Helper()
	v := envVar(c, name)
	if v == nil || v.ValueFrom != nil || v.Value != value {
		t.Errorf("%s %s: want %q, got %+v", c.Name, name, value, v)
	}
}

func wantSecretEnv(t *testing.T, c *corev1.Container, name, secret, key string) {
	t.Helper()
	v := envVar(c, name)
	if v == nil || v.Value != "" || v.ValueFrom == nil || v.ValueFrom.SecretKeyRef == nil ||
		v.ValueFrom.SecretKeyRef.Name != secret || v.ValueFrom.SecretKeyRef.Key != key {
		t.Errorf("%s %s: want Secret %s key %s, got %+v", c.Name, name, secret, key, v)
	}
}

// wantMountedFile checks that the file named by baton's env var is in a
// read-only mount of baton, and returns the mount's volume.
func wantMountedFile(t *testing.T, r rendered, name string) corev1.Volume {
	t.Helper()
	v := envVar(r.baton, name)
	if v == nil {
		t.Fatalf("no %s", name)
	}
	for _, m := range r.baton.VolumeMounts {
		if strings.HasPrefix(v.Value, m.MountPath+"/") {
			if !m.ReadOnly {
				t.Errorf("%s: mount %s is writable", name, m.Name)
			}
			file := strings.TrimPrefix(v.Value, m.MountPath+"/")
			for _, vol := range r.deploy.Spec.Template.Spec.Volumes {
				if vol.Name != m.Name {
					continue
				}
				var items []corev1.KeyToPath
				if vol.Secret != nil {
					items = vol.Secret.Items
				} else if vol.ConfigMap != nil {
					items = vol.ConfigMap.Items
				}
				if !slices.ContainsFunc(items, func(k corev1.KeyToPath) bool { return k.Path == file }) {
					t.Errorf("%s=%s: volume %s does not project %s", name, v.Value, vol.Name, file)
				}
				return vol
			}
		}
	}
	t.Fatalf("%s=%s is in no mount of baton", name, v.Value)
	return corev1.Volume{}
}

type named interface{ GetName() string }

func findNamed[T named](t *testing.T, objs []T, name string) T {
	t.Helper()
	for _, o := range objs {
		if o.GetName() == name {
			return o
		}
	}
	t.Fatalf("no object named %s", name)
	var zero T
	return zero
}

// selects reports whether a map selector matches a set of labels.
func selects(selector, set map[string]string) bool {
	return len(selector) > 0 && labels.SelectorFromSet(selector).Matches(labels.Set(set))
}

func withLeader(l map[string]string) map[string]string {
	out := map[string]string{"baton.dev/leader": "true"}
	for k, v := range l {
		out[k] = v
	}
	return out
}

func deref(b *bool) bool { return b != nil && *b }

func copyDir(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		dst := filepath.Join(to, rel)
		if d.IsDir() {
			return os.MkdirAll(dst, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}
