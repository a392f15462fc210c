// Package charts holds baton's Helm chart, charts/baton, and an example of a
// chart that injects baton with its named templates, charts/examples. Its
// tests render them with the helm CLI, decode every object strictly into
// its Kubernetes type, submit it to a real kube-apiserver as a dry run, and
// check the schema, the RBAC and the rollout arithmetic.
package charts
