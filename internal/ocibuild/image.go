package ocibuild

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"regexp"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// Config is what a runtime reads from the image to start its container.
type Config struct {
	// Entrypoint and Cmd as in a Dockerfile's exec form; at least one.
	Entrypoint []string
	Cmd        []string
	// Env holds NAME=value pairs.
	Env []string
	// User is "uid" or "uid:gid"; numeric, so that runAsNonRoot can
	// check it. Empty means root.
	User       string
	WorkingDir string
	// ExposedPorts such as "4040/tcp".
	ExposedPorts []string
	Labels       map[string]string
	// OS and Architecture of the binaries, e.g. linux and amd64; required.
	OS, Architecture string
	// CreatedBy is the history line of the single layer, e.g. the tool
	// that built it.
	CreatedBy string
}

var portPattern = regexp.MustCompile(`^[0-9]{1,5}/(tcp|udp|sctp)$`)

func (c Config) validate() error {
	if len(c.Entrypoint) == 0 && len(c.Cmd) == 0 {
		return fmt.Errorf("%w: neither entrypoint nor cmd", ErrBadConfig)
	}
	if c.OS == "" || c.Architecture == "" {
		return fmt.Errorf("%w: OS %q and architecture %q are both required", ErrBadConfig, c.OS, c.Architecture)
	}
	for _, p := range c.ExposedPorts {
		if !portPattern.MatchString(p) {
			return fmt.Errorf("%w: exposed port %q is not like 4040/tcp", ErrBadConfig, p)
		}
	}
	return nil
}

// Build returns the image of one layer holding entries, with cfg as its
// config and created as its creation time and every file's mtime (pass
// the commit time, SOURCE_DATE_EPOCH, for a reproducible image).
func Build(entries []Entry, cfg Config, created time.Time) (v1.Image, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	layerTar, err := LayerTar(entries, created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithCompressionLevel(gzip.BestSpeed), tarball.WithCompressedCaching)
	if err != nil {
		return nil, fmt.Errorf("ocibuild: layer: %w", err)
	}
	created = created.UTC().Truncate(time.Second)
	base, err := mutate.ConfigFile(empty.Image, &v1.ConfigFile{
		Architecture: cfg.Architecture,
		OS:           cfg.OS,
		Config:       runtimeConfig(cfg),
	})
	if err != nil {
		return nil, fmt.Errorf("ocibuild: config: %w", err)
	}
	img, err := mutate.Append(base, mutate.Addendum{
		Layer:   layer,
		History: v1.History{Created: v1.Time{Time: created}, CreatedBy: cfg.CreatedBy},
	})
	if err != nil {
		return nil, fmt.Errorf("ocibuild: appending the layer: %w", err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: created})
	if err != nil {
		return nil, fmt.Errorf("ocibuild: creation time: %w", err)
	}
	return img, nil
}

func runtimeConfig(c Config) v1.Config {
	rc := v1.Config{
		Entrypoint: c.Entrypoint,
		Cmd:        c.Cmd,
		Env:        c.Env,
		User:       c.User,
		WorkingDir: c.WorkingDir,
		Labels:     c.Labels,
	}
	if len(c.ExposedPorts) > 0 {
		rc.ExposedPorts = make(map[string]struct{}, len(c.ExposedPorts))
		for _, p := range c.ExposedPorts {
			rc.ExposedPorts[p] = struct{}{}
		}
	}
	return rc
}
