// Package ocibuild assembles container images without a container engine:
// a list of files becomes one layer, a Config becomes the image's config,
// and the result is written as a docker-archive tarball (what
// `ctr images import` and `docker load` read) or into an OCI image layout.
//
// Everything is reproducible: the same entries, config and creation time
// give the same bytes and so the same digest. Entries are sorted by path,
// every tar header carries the given time, numeric owners and no user or
// group names, and the layer is compressed with a fixed gzip level (BestSpeed: on
// a 17 MB layer a tenth larger than BestCompression, and 15 times faster).
// The image model, digests and the OCI layout come from
// github.com/google/go-containerregistry.
package ocibuild

import "errors"

// Errors of this package, matched with errors.Is.
var (
	// ErrBadEntry reports an entry that cannot go into a layer: a path
	// that is not absolute and clean, a mode with bits other than the
	// permission, setuid, setgid and sticky bits, a negative owner, a
	// symlink without a target, or an unknown type.
	ErrBadEntry = errors.New("ocibuild: bad entry")
	// ErrDuplicatePath reports two entries for the same path.
	ErrDuplicatePath = errors.New("ocibuild: duplicate path")
	// ErrNotDir reports an entry below a path that is not a directory.
	ErrNotDir = errors.New("ocibuild: parent is not a directory")
	// ErrBadConfig reports a Config that no runtime could start: no
	// entrypoint and no cmd, a bad exposed port, or a missing OS or
	// architecture.
	ErrBadConfig = errors.New("ocibuild: bad config")
	// ErrBadTag reports a tag that is not a valid image reference with a
	// tag, such as localhost/baton:e2e.
	ErrBadTag = errors.New("ocibuild: bad tag")
)
