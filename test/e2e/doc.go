// Package e2e runs baton's chart on a real single-node Kubernetes (see
// test/e2e/harness): real pods, a real kubelet and containerd, the real
// helm CLI, a Redis on the host's bridge address and the chart's own
// bundled Redis. `make e2e` provisions what it needs and runs it; each
// scenario logs one line "e2e: scenario N <name>: PASS|FAIL <figures>".
//
// It needs root on Linux. Without them, or without the tools and images
// (KUBE_NODE_ASSETS, HELM, BATON_E2E_IMAGES), it skips, except under
// CI=true, where it fails.
package e2e
