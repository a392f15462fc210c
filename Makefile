# baton: the two set-up commands are `make demo` and `make test`. Each
# installs what it needs: Debian packages through apt-get when run as root,
# Go modules through the module proxy.

GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION  ?= $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
# Shared by `make build` and the Dockerfile: a static, stripped, stamped binary.
LDFLAGS   := -s -w -X main.version=$(VERSION) -X main.revision=$(REVISION)
BUILDFLAGS := -trimpath -ldflags '$(LDFLAGS)'
IMAGE     ?= baton:$(VERSION)
BIN       := bin

.PHONY: all build demo demo-locks test chaos bench bench-core bench-schedule bench-kube-lease image image-docker deps-image deps-redis tools fmt vet lint docs clean help

all: build

help:
	@echo "make demo        run three sidecars on a throwaway Redis: handover and failover"
	@echo "make demo-locks  the shop: 1000 concurrent purchases at a stock of 100 with a lock, without, and fair"
	@echo "make test        vet, gofmt, staticcheck and go test -race against real Redis"
	@echo "make docs        rewrite the docs' Go snippets from the runnable examples they come from"
	@echo "make chaos       randomized fault run (10m, >= 1000 transitions), then the exec topology (2m), the schedule topology (5m, exactly once per window), the locks, the lock API (3m) and the Lease backend on a real kube-apiserver (5m); CHAOS_SEED=N reproduces one"
	@echo "make bench-core  handover latency, failover overshoot, idle follower load, RSS"
	@echo "make bench-schedule  schedule mode: window start to job start, Redis commands per window (3 and 30 replicas)"
	@echo "make bench-kube-lease  --backend kube-lease on an envtest kube-apiserver: handover, crash overshoot, API requests per minute"
	@echo "make bench       baton side by side with client-go, redsync, bsm/redislock and the raw floor (bench/results)"
	@echo "make build       build $(BIN)/baton (static, CGO_ENABLED=0)"
	@echo "make image       the images without Docker (hack/image): $(BIN)/images/*.tar, reproducible digests"
	@echo "make image-docker docker build -t $(IMAGE) ."
	@echo "make e2e         a real single-node Kubernetes (root, Linux): the chart's scenarios on real pods (test/e2e)"

build:
	CGO_ENABLED=0 $(GO) build $(BUILDFLAGS) -o $(BIN)/baton ./cmd/sidecar
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/batchjob ./examples/batchjob
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/shop ./examples/shop

# deps-redis installs redis-server (and redis-cli) when missing: with
# apt-get as root, otherwise it says what to install.
deps-redis:
	@if ! command -v redis-server >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing redis-server with apt-get"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq redis-server redis-tools >/dev/null; \
	  else \
	    echo "redis-server is missing: install it (Debian: sudo apt-get install redis-server redis-tools)" >&2; exit 1; \
	  fi; \
	fi

demo: deps-redis build
	$(GO) run ./hack/demo --baton $(BIN)/baton --job $(BIN)/batchjob

# The shop (examples/shop) behind a round-robin proxy, each web server with
# its own sidecar; fails unless the lock sells exactly the stock, and the
# fair lock also in queue order.
demo-locks: deps-redis build
	$(GO) run ./hack/demolocks --baton $(BIN)/baton --shop $(BIN)/shop

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	  if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi

# Library users build on every OS: vet for Linux, and also as darwin and
# windows would compile it (platform code sits behind build tags).
vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...

# staticcheck, built once per version from the Go module proxy.
lint:
	"$$(hack/tools/staticcheck.sh)" ./...

# The Go snippets of docs/*.md are their Example functions' source
# (hack/docsnippets); go test fails when one has drifted.
docs:
	$(GO) run ./hack/docsnippets docs/*.md README.md

# Tools for the Kubernetes tests, built once per machine and version under
# ~/.cache/baton/tools: the helm CLI, helm-docs (the chart's README), and
# kube-apiserver + etcd + kubectl for envtest (setup-envtest where it can
# download, otherwise built from the Go module proxy, with Debian's
# etcd-server), and promtool for the chart's alerting rules.
tools:
	@hack/tools/helm.sh >/dev/null
	@hack/tools/helm-docs.sh >/dev/null
	@hack/tools/kube-assets.sh >/dev/null
	@hack/tools/promtool.sh >/dev/null

test: deps-redis deps-image fmt vet lint tools
	HELM="$$(hack/tools/helm.sh)" HELM_DOCS="$$(hack/tools/helm-docs.sh)" KUBEBUILDER_ASSETS="$$(hack/tools/kube-assets.sh)" \
	  $(GO) test -race -count=1 -timeout 30m ./...
	cd bench && $(GO) vet ./... && $(GO) test -count=1 ./...
	cd test/monitoring && $(GO) vet ./... && HELM="$$(../../hack/tools/helm.sh)" PROMTOOL="$$(../../hack/tools/promtool.sh)" $(GO) test -count=1 ./...
	$(MAKE) --no-print-directory e2e

# The real-cluster e2e (test/e2e, run by test/e2e/run.sh): etcd, the API
# server, controller-manager, scheduler, containerd, kubelet and kube-proxy
# v1.35.4 on a bridge that nothing leaves, the chart's scenarios on real
# pods, then a teardown that leaves the machine as it was. It provisions
# the Debian packages (apt-get), the stamped Kubernetes binaries
# (hack/tools/kube-node.sh, cached) and the images (make image). Without
# root or outside Linux it skips, saying why; under CI=true it fails then.
# (Not MAKE="$(MAKE)" here: a recipe line naming $(MAKE) runs even under
# make -n, and this one would start a cluster.)
.PHONY: e2e
e2e: deps-redis
	test/e2e/run.sh

# The randomized fault run against real sidecars and redis-servers; a
# 2-minute run of the same suite is part of `make test`.
CHAOS_DURATION ?= 10m
CHAOS_SEED     ?= 1
# Then the exec topology: three `baton run` replicas whose jobs must never
# be alive at once.
CHAOS_EXEC_DURATION ?= 2m
# Then the schedule topology: three `baton run --schedule '@every 1s'`
# replicas, one window a second, exactly once under the faults (a 2-minute
# run is part of `make test`).
CHAOS_SCHEDULE_DURATION ?= 5m
# Then the application locks (mutex, fair, semaphore) under the client
# faults, this long per run.
CHAOS_LOCKS_DURATION ?= 2m
# Then the lock API: HTTP clients of three sidecars under faults timed to
# their acquires, renewals, DELETEs and stream closes, and FLUSHALL with a
# fresh sidecar.
CHAOS_LOCKAPI_DURATION ?= 3m
# Then the Lease backend: three `baton run --backend kube-lease` replicas
# on a real kube-apiserver (envtest), under its faults.
CHAOS_KUBELEASE_DURATION ?= 5m
chaos: deps-redis
	$(GO) test -count=1 -timeout 40m -v -run 'TestChaos$$' ./test/chaos \
	  -chaos.duration=$(CHAOS_DURATION) -chaos.seed=$(CHAOS_SEED) -chaos.min-transitions=1000
	$(GO) test -count=1 -timeout 20m -v -run 'TestChaosExec$$' ./test/chaos \
	  -chaos.exec-duration=$(CHAOS_EXEC_DURATION) -chaos.seed=$(CHAOS_SEED)
	$(GO) test -count=1 -timeout 20m -v -run 'TestChaosSchedule$$' ./test/chaos \
	  -chaos.schedule-duration=$(CHAOS_SCHEDULE_DURATION) -chaos.seed=$(CHAOS_SEED)
	$(GO) test -count=1 -timeout 20m -v -run 'TestLocks(Mutex|Semaphore)$$' ./test/chaos \
	  -chaos.locks-duration=$(CHAOS_LOCKS_DURATION) -chaos.seed=$(CHAOS_SEED)
	$(GO) test -count=1 -timeout 20m -v -run 'TestChaosLockAPI$$' ./test/chaos \
	  -chaos.lockapi-duration=$(CHAOS_LOCKAPI_DURATION) -chaos.seed=$(CHAOS_SEED)
	KUBEBUILDER_ASSETS="$$(hack/tools/kube-assets.sh)" CI=true \
	  $(GO) test -count=1 -timeout 20m -v -run 'TestChaosKubeLease$$' ./test/chaos \
	  -chaos.kubelease-duration=$(CHAOS_KUBELEASE_DURATION) -chaos.seed=$(CHAOS_SEED)

# The core figures are one step of the benchmark (bench/cmd/bench -only
# core): the sidecar alone, no kube-apiserver, nothing written to
# bench/results, the table on stdout.
bench-core: deps-redis build
	cd bench && $(GO) run ./cmd/bench -sidecar ../$(BIN)/baton -only core -out ''

# Schedule mode alone (bench/cmd/bench -only schedule): `baton run
# --schedule` replicas, nothing written to bench/results, the table on stdout.
bench-schedule: deps-redis build
	cd bench && $(GO) run ./cmd/bench -sidecar ../$(BIN)/baton -only schedule -out ''

# The Lease backend alone (bench/cmd/bench -only kube-lease): two sidecars
# with --backend kube-lease on an envtest kube-apiserver, nothing written to
# bench/results, the table on stdout. `make bench` runs it beside client-go.
bench-kube-lease: deps-redis build
	cd bench && KUBEBUILDER_ASSETS="$$(../hack/tools/kube-assets.sh)" $(GO) run ./cmd/bench -sidecar ../$(BIN)/baton -only kube-lease -out ''

# The side-by-side benchmark lives in its own module (bench/), so the main
# module does not depend on its peers. It writes bench/results/.
bench: deps-redis build
	cd bench && KUBEBUILDER_ASSETS="$$(../hack/tools/kube-assets.sh)" $(GO) run ./cmd/bench -sidecar ../$(BIN)/baton -out results

# The images without a container engine (hack/image, go-containerregistry):
# baton, batchjob, pause, redis, busybox (and shop) as docker-archive
# tarballs under $(BIN)/images, loadable with `ctr -n k8s.io images import`
# or `docker load -i`, plus an OCI layout. Every timestamp is the commit's
# time, so the same commit gives the same digests (0 outside a git clone).
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)
image: deps-image
	$(GO) run ./hack/image -out $(BIN)/images -version $(VERSION) -revision $(REVISION) -ldflags '$(LDFLAGS)' -source-date-epoch $(SOURCE_DATE_EPOCH)

# deps-image installs what the images copy from Debian when missing (as
# root with apt-get): the CA bundle, redis-server and a static busybox.
deps-image: deps-redis
	@for dep in /etc/ssl/certs/ca-certificates.crt:ca-certificates /bin/busybox:busybox-static; do \
	  f=$${dep%%:*}; pkg=$${dep#*:}; [ -e "$$f" ] && continue; \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing $$pkg with apt-get"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null || \
	      { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$pkg >/dev/null; }; \
	  else echo "$$f is missing: install $$pkg (Debian: sudo apt-get install $$pkg)" >&2; exit 1; fi; \
	done

image-docker:
	docker build --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) -t $(IMAGE) .

clean:
	rm -rf $(BIN)
