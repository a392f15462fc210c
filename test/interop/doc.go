// Package interop is the envtest interop test of the kube-lease backend:
// baton's `baton run --backend kube-lease` replicas and unmodified client-go
// leader electors (./clientgo) take turns on the same Lease of a real
// kube-apiserver, handing over in both directions under SIGTERM, SIGKILL and
// SIGSTOP, and the stamps of both sides prove that no two leaderships
// overlapped. See TestInterop for what exactly is checked.
package interop
