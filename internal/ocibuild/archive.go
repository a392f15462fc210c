package ocibuild

import (
	"archive/tar"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// WriteDockerArchive writes img, tagged with every tag, as an image
// tarball at path that both `docker load` and `ctr -n k8s.io images import`
// read: an OCI image layout (oci-layout, index.json naming each tag, and
// the blobs, manifest included) plus docker's manifest.json pointing at the
// same blobs, as `docker save` writes since Docker 25. containerd imports
// the index, so it keeps img's manifest and its digest; from manifest.json
// alone it would write a manifest of its own, with another digest. The file
// is written to a temporary name and renamed, so a reader never sees half
// of it.
//
// go-containerregistry's tarball.Write writes only manifest.json, and
// orders the tags of one image as a map iterates, so two runs could give
// different bytes. This writer puts every entry in a fixed order with fixed
// headers: the same image and tags give the same file.
func WriteDockerArchive(path string, img v1.Image, tags ...string) (err error) {
	repoTags, err := canonicalTags(tags)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("ocibuild: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err := writeArchive(tmp, img, repoTags); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return fmt.Errorf("ocibuild: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("ocibuild: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("ocibuild: %w", err)
	}
	return nil
}

// canonicalTags parses tags as references with a tag and returns them
// sorted, as the registry/repository:tag that runtimes store.
func canonicalTags(tags []string) ([]string, error) {
	if len(tags) == 0 {
		return nil, fmt.Errorf("%w: an image needs at least one tag", ErrBadTag)
	}
	out := make([]string, 0, len(tags))
	for _, t := range tags {
		tag, err := name.NewTag(t, name.StrictValidation)
		if err != nil {
			return nil, fmt.Errorf("%w: %q: %w", ErrBadTag, t, err)
		}
		out = append(out, tag.String())
	}
	sort.Strings(out)
	return out, nil
}

func writeArchive(w io.Writer, img v1.Image, repoTags []string) error {
	tw := tar.NewWriter(w)
	if err := writeBlob(tw, "oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("ocibuild: config digest: %w", err)
	}
	cfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("ocibuild: config: %w", err)
	}
	desc := tarball.Descriptor{Config: blobPath(cfgName), RepoTags: repoTags}
	if err := writeBlob(tw, desc.Config, cfg); err != nil {
		return err
	}
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("ocibuild: layers: %w", err)
	}
	for _, l := range layers {
		file, err := writeLayer(tw, l)
		if err != nil {
			return err
		}
		desc.Layers = append(desc.Layers, file)
	}
	manifest, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("ocibuild: manifest: %w", err)
	}
	manifestDesc, err := partial.Descriptor(img)
	if err != nil {
		return fmt.Errorf("ocibuild: manifest: %w", err)
	}
	if err := writeBlob(tw, blobPath(manifestDesc.Digest), manifest); err != nil {
		return err
	}
	index := v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex}
	for _, tag := range repoTags {
		d := *manifestDesc
		d.Annotations = map[string]string{refNameAnnotation: tag, containerdNameAnnotation: tag}
		index.Manifests = append(index.Manifests, d)
	}
	for _, entry := range []struct {
		file string
		v    any
	}{{"index.json", index}, {"manifest.json", tarball.Manifest{desc}}} {
		data, err := json.Marshal(entry.v)
		if err != nil {
			return fmt.Errorf("ocibuild: %s: %w", entry.file, err)
		}
		if err := writeBlob(tw, entry.file, data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return fmt.Errorf("ocibuild: closing the archive: %w", err)
	}
	return nil
}

// containerdNameAnnotation names an image of an index for containerd.
const containerdNameAnnotation = "io.containerd.image.name"

// blobPath is where an OCI layout keeps the blob of digest d.
func blobPath(d v1.Hash) string { return "blobs/" + d.Algorithm + "/" + d.Hex }

func writeLayer(tw *tar.Writer, l v1.Layer) (string, error) {
	digest, err := l.Digest()
	if err != nil {
		return "", fmt.Errorf("ocibuild: layer digest: %w", err)
	}
	size, err := l.Size()
	if err != nil {
		return "", fmt.Errorf("ocibuild: layer size: %w", err)
	}
	rc, err := l.Compressed()
	if err != nil {
		return "", fmt.Errorf("ocibuild: layer: %w", err)
	}
	defer rc.Close()
	file := blobPath(digest)
	if err := tw.WriteHeader(&tar.Header{Name: file, Mode: 0o644, Size: size, Typeflag: tar.TypeReg}); err != nil {
		return "", fmt.Errorf("ocibuild: %s: %w", file, err)
	}
	if _, err := io.Copy(tw, rc); err != nil {
		return "", fmt.Errorf("ocibuild: %s: %w", file, err)
	}
	return file, nil
}

func writeBlob(tw *tar.Writer, file string, data []byte) error {
	if err := tw.WriteHeader(&tar.Header{Name: file, Mode: 0o644, Size: int64(len(data)), Typeflag: tar.TypeReg}); err != nil {
		return fmt.Errorf("ocibuild: %s: %w", file, err)
	}
	if _, err := tw.Write(data); err != nil {
		return fmt.Errorf("ocibuild: %s: %w", file, err)
	}
	return nil
}
