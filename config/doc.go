// Package config holds kustomize manifests for users who don't use Helm:
// rbac/ (baton's ServiceAccount, Role and RoleBinding) and default/ (a
// sample Deployment with baton as a native sidecar, plus rbac/). Its tests
// render them with kubectl kustomize, decode them strictly and submit them
// to a real kube-apiserver as a dry run.
package config
