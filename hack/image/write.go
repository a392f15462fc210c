package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/baton-dev/baton/internal/ocibuild"
)

// result is one written image, printed as one line.
type result struct {
	path           string
	tags           []string
	image          v1.Image
	digest, config v1.Hash
	size           int64
}

func (r result) String() string {
	return fmt.Sprintf("%-22s %s  digest %s  id %s  %.1f MiB",
		r.path, strings.Join(r.tags, ","), r.digest, r.config, float64(r.size)/(1<<20))
}

// write builds s and writes it as a docker-archive tarball under dir.
func write(dir string, s spec, created time.Time) (result, error) {
	img, err := ocibuild.Build(s.entries, s.config, created)
	if err != nil {
		return result{}, fmt.Errorf("%s: %w", s.file, err)
	}
	r := result{path: filepath.Join(dir, s.file), tags: s.tags, image: img}
	if r.digest, err = img.Digest(); err != nil {
		return result{}, fmt.Errorf("%s: %w", s.file, err)
	}
	if r.config, err = img.ConfigName(); err != nil {
		return result{}, fmt.Errorf("%s: %w", s.file, err)
	}
	if err := ocibuild.WriteDockerArchive(r.path, img, s.tags...); err != nil {
		return result{}, fmt.Errorf("%s: %w", s.file, err)
	}
	st, err := os.Stat(r.path)
	if err != nil {
		return result{}, err
	}
	r.size = st.Size()
	return r, nil
}
