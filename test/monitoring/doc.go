// Package monitoring tests what the baton chart ships for monitoring
// against real things: the alerting rules that templates/prometheusrule.yaml
// renders, with promtool's own checker and unit tests (testdata/alerts.test.yaml),
// and the Grafana dashboard, charts/baton/dashboards/baton.json, whose every
// query must parse with Prometheus's PromQL parser and name only metrics
// that a real baton process, against a real redis-server, serves on
// /metrics. Schedule mode's series are held to issue 19's metric contract
// (runcontract_test.go), which stands in for them only while the sidecar
// serves none of them.
//
// It is a module of its own so that the main module does not depend on
// Prometheus's. The tools come from the environment, as `make test` passes
// them: PROMTOOL (hack/tools/promtool.sh) and HELM (hack/tools/helm.sh);
// without one the test that needs it is skipped, except under CI=true,
// where it fails.
package monitoring
