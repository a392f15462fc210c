package main

import (
	"io/fs"

	"github.com/baton-dev/baton/internal/ocibuild"
)

// nonroot is the user of the Go images: distroless's nonroot, numeric so
// that a pod's runAsNonRoot can check it.
const (
	nonrootUID   = 65532
	nonrootUser  = "65532:65532"
	caBundlePath = "/etc/ssl/certs/ca-certificates.crt"
)

// staticBase returns what gcr.io/distroless/static-debian12:nonroot gives a
// static Go binary, and nothing else: the CA bundle, /etc/passwd and
// /etc/group with root and nonroot, nonroot's home, and a sticky /tmp. Not
// copied: tzdata (baton reads no time zone), /etc/os-release and
// /etc/nsswitch.conf (a static Go binary's resolver does not need it).
func staticBase(caBundle []byte) []ocibuild.Entry {
	return []ocibuild.Entry{
		ocibuild.File(caBundlePath, 0o644, caBundle),
		ocibuild.File("/etc/passwd", 0o644, []byte(
			"root:x:0:0:root:/root:/sbin/nologin\n"+
				"nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin\n"+
				"nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n")),
		ocibuild.File("/etc/group", 0o644, []byte("root:x:0:\nnobody:x:65534:\nnonroot:x:65532:\n")),
		ocibuild.Dir("/home/nonroot", 0o700).Owned(nonrootUID, nonrootUID),
		ocibuild.Dir("/root", 0o700),
		ocibuild.Dir("/tmp", 0o777|fs.ModeSticky),
	}
}

// staticEnv is distroless's environment: a PATH, and the CA bundle for
// programs that do not look in the usual places.
var staticEnv = []string{
	"PATH=/usr/local/bin:/usr/local/sbin:/usr/sbin:/usr/bin:/sbin:/bin",
	"SSL_CERT_FILE=" + caBundlePath,
}
