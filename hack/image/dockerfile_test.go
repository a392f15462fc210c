package main

import (
	"encoding/json"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// distrolessStatic is the Dockerfile's base. The Go build does not pull
// it: staticBase gives a static binary the same pieces (the CA bundle,
// nonroot in /etc/passwd and /etc/group, its home as the working
// directory, a sticky /tmp, SSL_CERT_FILE), so the two images run baton
// alike. A change of the Dockerfile's base must be mirrored in staticBase.
const distrolessStatic = "gcr.io/distroless/static-debian12:nonroot"

// dockerfile is what the test reads from the Dockerfile: the last stage's
// instructions by name, and the build stage's RUN lines.
type dockerfile struct {
	base      string
	final     map[string][]string
	buildRuns []string
	buildArgs map[string]string
	finalArgs map[string]string
}

func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.ReplaceAll(string(data), "\\\n", " ")
	d := dockerfile{final: map[string][]string{}, buildArgs: map[string]string{}, finalArgs: map[string]string{}}
	stage := 0
	for _, line := range strings.Split(joined, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		instr, rest, _ := strings.Cut(line, " ")
		instr = strings.ToUpper(instr)
		rest = strings.Join(strings.Fields(rest), " ")
		if instr == "FROM" {
			stage++
			d.base = strings.Fields(rest)[0]
			d.final = map[string][]string{}
			continue
		}
		args := d.buildArgs
		if stage > 1 {
			args = d.finalArgs
		}
		switch instr {
		case "ARG":
			k, v, _ := strings.Cut(rest, "=")
			args[k] = v
		case "RUN":
			if stage == 1 {
				d.buildRuns = append(d.buildRuns, rest)
			}
		}
		if stage > 1 {
			d.final[instr] = append(d.final[instr], rest)
		}
	}
	if stage != 2 {
		t.Fatalf("%s has %d stages, want a build stage and the image", path, stage)
	}
	return d
}

var labelPair = regexp.MustCompile(`([a-z0-9.]+)="([^"]*)"`)

func TestDockerfileAgreesWithGoBuild(t *testing.T) {
	d := parseDockerfile(t, "../../Dockerfile")
	o, err := parseFlags(nil, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	in := inputs{version: "${VERSION}", revision: "${REVISION}", source: o.source, arch: "amd64"}
	baton := in.batonImage()

	t.Run("base", func(t *testing.T) {
		if d.base != distrolessStatic {
			t.Fatalf("the Dockerfile's base is %q; staticBase mirrors %q: change both", d.base, distrolessStatic)
		}
		cfg := baton.config
		if cfg.WorkingDir != "/home/nonroot" || !slices.Contains(cfg.Env, "SSL_CERT_FILE="+caBundlePath) {
			t.Errorf("working dir %q env %q: not distroless's", cfg.WorkingDir, cfg.Env)
		}
		var paths []string
		for _, e := range baton.entries {
			paths = append(paths, e.Path)
		}
		for _, p := range []string{caBundlePath, "/etc/passwd", "/etc/group", "/home/nonroot", "/tmp", "/baton"} {
			if !slices.Contains(paths, p) {
				t.Errorf("the Go image has no %s", p)
			}
		}
	})
	t.Run("user", func(t *testing.T) {
		if got := d.final["USER"]; len(got) != 1 || got[0] != nonrootUser || baton.config.User != nonrootUser {
			t.Errorf("Dockerfile USER %q, Go image %q, want %q", got, baton.config.User, nonrootUser)
		}
	})
	t.Run("entrypoint", func(t *testing.T) {
		got := d.final["ENTRYPOINT"]
		if len(got) != 1 {
			t.Fatalf("ENTRYPOINT %q", got)
		}
		var entrypoint []string
		if err := json.Unmarshal([]byte(got[0]), &entrypoint); err != nil {
			t.Fatalf("ENTRYPOINT %s is not the exec form: %v", got[0], err)
		}
		if !reflect.DeepEqual(entrypoint, baton.config.Entrypoint) {
			t.Errorf("Dockerfile ENTRYPOINT %q, Go image %q", entrypoint, baton.config.Entrypoint)
		}
		if cp := d.final["COPY"]; len(cp) != 1 || !strings.HasSuffix(cp[0], " "+entrypoint[0]) {
			t.Errorf("COPY %q does not put the binary at %s", cp, entrypoint[0])
		}
	})
	t.Run("ports", func(t *testing.T) {
		var ports []string
		for _, e := range d.final["EXPOSE"] {
			for _, p := range strings.Fields(e) {
				ports = append(ports, p+"/tcp")
			}
		}
		if !slices.Equal(ports, baton.config.ExposedPorts) {
			t.Errorf("Dockerfile EXPOSE %q, Go image %q", ports, baton.config.ExposedPorts)
		}
	})
	t.Run("labels", func(t *testing.T) {
		got := map[string]string{}
		for _, l := range d.final["LABEL"] {
			for _, m := range labelPair.FindAllStringSubmatch(l, -1) {
				got[m[1]] = m[2]
			}
		}
		if want := in.labels(); !reflect.DeepEqual(got, want) {
			t.Errorf("Dockerfile LABEL %v, Go image %v", got, want)
		}
	})
	t.Run("build flags", func(t *testing.T) {
		if len(d.buildRuns) == 0 {
			t.Fatal("no RUN in the build stage")
		}
		run := d.buildRuns[len(d.buildRuns)-1]
		want := "CGO_ENABLED=0 go build -trimpath -ldflags \"" + batonLDFlags("${VERSION}", "${REVISION}") + "\" -o /out/baton " + goPrograms("", false)[0].pkg
		if run != want {
			t.Errorf("the Dockerfile builds with\n%s\nthe Go build with\n%s", run, want)
		}
		args := strings.Join(goBuildArgs("./cmd/sidecar", "out", "L"), " ")
		if !strings.HasPrefix(args, "build -trimpath -ldflags L ") || !slices.Contains(goBuildEnv("amd64"), "CGO_ENABLED=0") {
			t.Errorf("go %s with %q: not static and trimmed", args, goBuildEnv("amd64"))
		}
	})
	t.Run("version defaults", func(t *testing.T) {
		for _, args := range []map[string]string{d.buildArgs, d.finalArgs} {
			if args["VERSION"] != o.version || args["REVISION"] != o.revision {
				t.Errorf("Dockerfile ARGs %v, hack/image defaults %s %s", args, o.version, o.revision)
			}
		}
	})
}

// TestMakefileAgreesWithGoBuild checks that `make build`, the Dockerfile
// and hack/image stamp baton with the same linker flags, and that
// `make image` hands its LDFLAGS to hack/image.
func TestMakefileAgreesWithGoBuild(t *testing.T) {
	data, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{}
	var lines []string
	for _, line := range strings.Split(strings.ReplaceAll(string(data), "\\\n", " "), "\n") {
		lines = append(lines, strings.TrimSpace(line))
		if k, v, ok := strings.Cut(line, ":="); ok && !strings.ContainsAny(k, "\t#") {
			vars[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	if got, want := vars["LDFLAGS"], batonLDFlags("$(VERSION)", "$(REVISION)"); got != want {
		t.Errorf("Makefile LDFLAGS %q, hack/image %q", got, want)
	}
	if got := vars["BUILDFLAGS"]; got != "-trimpath -ldflags '$(LDFLAGS)'" {
		t.Errorf("Makefile BUILDFLAGS %q", got)
	}
	var build, image bool
	for _, l := range lines {
		if strings.Contains(l, "build $(BUILDFLAGS)") && strings.HasSuffix(l, "./cmd/sidecar") {
			build = strings.HasPrefix(l, "CGO_ENABLED=0 ")
		}
		if strings.Contains(l, "./hack/image") {
			image = strings.Contains(l, "-ldflags '$(LDFLAGS)'") && strings.Contains(l, "-version $(VERSION)") && strings.Contains(l, "-revision $(REVISION)")
		}
	}
	if !build {
		t.Error("make build does not build ./cmd/sidecar with CGO_ENABLED=0 and $(BUILDFLAGS)")
	}
	if !image {
		t.Error("make image does not run ./hack/image with -ldflags '$(LDFLAGS)', -version and -revision")
	}
}
