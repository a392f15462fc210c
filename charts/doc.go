// Package charts holds baton's Helm chart, charts/baton, and an example of a
// chart that injects baton with its named templates, charts/examples. Its
// tests render them with the helm CLI, decode every object strictly into
// its Kubernetes type, submit it to a real kube-apiserver as a dry run, and
// check the schema, the RBAC and the rollout arithmetic, and that the
// chart's README.md and values.schema.json are what its values.yaml
// generates (charts/chartgen).
package charts

// Rewrite charts/baton/values.schema.json and charts/baton/README.md from
// charts/baton/values.yaml.
//go:generate go run ./chartgen/cmd/chartgen baton
