package config_test

import (
	"context"
	"os"
	"reflect"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/baton-dev/baton/charts/manifesttest"
	"github.com/baton-dev/baton/pkg/kube"
)

var env *manifesttest.Env

func TestMain(m *testing.M) { os.Exit(manifesttest.Main(m, &env)) }

// kustomize renders a directory with kubectl kustomize and decodes it
// strictly.
func kustomize(t *testing.T, dir string) []manifesttest.Object {
	t.Helper()
	out, err := manifesttest.Run(manifesttest.Kubectl(t), "kustomize", dir)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := manifesttest.Decode(out)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, out)
	}
	return objs
}

func TestRBAC(t *testing.T) {
	objs := kustomize(t, "rbac")
	if len(objs) != 3 {
		t.Fatalf("want ServiceAccount, Role and RoleBinding, got %d objects", len(objs))
	}
	role := manifesttest.One[*rbacv1.Role](t, objs)
	if !reflect.DeepEqual(role.Rules, kube.RequiredRules) {
		t.Errorf("Role rules:\n got %+v\nwant %+v (pkg/kube.RequiredRules)", role.Rules, kube.RequiredRules)
	}
}

func TestDefault(t *testing.T) {
	objs := kustomize(t, "default")
	ns := manifesttest.One[*corev1.Namespace](t, objs)
	sa := manifesttest.One[*corev1.ServiceAccount](t, objs)
	role := manifesttest.One[*rbacv1.Role](t, objs)
	rb := manifesttest.One[*rbacv1.RoleBinding](t, objs)
	d := manifesttest.One[*appsv1.Deployment](t, objs)

	for _, o := range objs {
		if o.GVK.Kind != "Namespace" && o.Raw.GetNamespace() != ns.Name {
			t.Errorf("%s is in namespace %q, want %s", o.Name(), o.Raw.GetNamespace(), ns.Name)
		}
	}
	if !reflect.DeepEqual(role.Rules, kube.RequiredRules) {
		t.Errorf("Role rules:\n got %+v\nwant %+v", role.Rules, kube.RequiredRules)
	}
	want := []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: ns.Name}}
	if !reflect.DeepEqual(rb.Subjects, want) || rb.RoleRef.Name != role.Name {
		t.Errorf("RoleBinding: %v -> %s, want %v -> %s", rb.Subjects, rb.RoleRef.Name, want, role.Name)
	}

	spec := d.Spec.Template.Spec
	if spec.ServiceAccountName != sa.Name {
		t.Errorf("serviceAccountName %s, want %s", spec.ServiceAccountName, sa.Name)
	}
	if len(spec.InitContainers) != 1 {
		t.Fatalf("want baton as the one init container, got %d", len(spec.InitContainers))
	}
	b := spec.InitContainers[0]
	if b.RestartPolicy == nil || *b.RestartPolicy != corev1.ContainerRestartPolicyAlways || b.StartupProbe == nil {
		t.Errorf("baton must be a native sidecar with a startup probe: %+v", b)
	}
	got := map[string]string{}
	for _, e := range b.Env {
		if e.ValueFrom != nil && e.ValueFrom.FieldRef != nil {
			got[e.Name] = e.ValueFrom.FieldRef.FieldPath
		}
	}
	if got["POD_NAME"] != "metadata.name" || got["POD_NAMESPACE"] != "metadata.namespace" {
		t.Errorf("POD_NAME and POD_NAMESPACE must come from the downward API: %v", got)
	}
	sc := b.SecurityContext
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot ||
		sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" {
		t.Errorf("baton securityContext is not hardened: %+v", sc)
	}

	t.Run("dry-run", func(t *testing.T) {
		cl := env.Client(t)
		// The Namespace itself is created, so that the objects in it can
		// be dry-run.
		for _, o := range objs {
			if o.GVK.Kind == "Namespace" {
				u := o.Raw.DeepCopy()
				if err := cl.Create(t.Context(), u); err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { _ = cl.Delete(context.Background(), u) })
			}
		}
		var rest []manifesttest.Object
		for _, o := range objs {
			if o.GVK.Kind != "Namespace" {
				rest = append(rest, o)
			}
		}
		if err := manifesttest.DryRunCreate(t.Context(), cl, ns.Name, rest); err != nil {
			t.Errorf("the API server rejects config/default:\n%v", err)
		}
	})
}
