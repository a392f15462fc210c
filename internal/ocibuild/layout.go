package ocibuild

import (
	"fmt"
	"os"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// Tagged is an image and the tags it goes by.
type Tagged struct {
	Image v1.Image
	Tags  []string
}

// refNameAnnotation names an image of an OCI layout's index.json.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// WriteOCILayout replaces dir with an OCI image layout holding images, one
// index entry per tag (annotated with org.opencontainers.image.ref.name),
// in the order given and, within an image, in sorted tag order.
func WriteOCILayout(dir string, images []Tagged) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("ocibuild: %w", err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("ocibuild: OCI layout: %w", err)
	}
	for _, t := range images {
		tags, err := canonicalTags(t.Tags)
		if err != nil {
			return err
		}
		for _, tag := range tags {
			if err := p.AppendImage(t.Image, layout.WithAnnotations(map[string]string{refNameAnnotation: tag})); err != nil {
				return fmt.Errorf("ocibuild: OCI layout: %s: %w", tag, err)
			}
		}
	}
	return nil
}
