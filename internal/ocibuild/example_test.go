package ocibuild_test

import (
	"fmt"
	"log"
	"os"
	"path/filepath"
	"time"

	"github.com/baton-dev/baton/internal/ocibuild"
)

func Example() {
	img, err := ocibuild.Build([]ocibuild.Entry{
		ocibuild.File("/hello", 0o755, []byte("#!/bin/sh\necho hello\n")),
		ocibuild.Dir("/tmp", 0o777|os.ModeSticky),
	}, ocibuild.Config{
		Entrypoint:   []string{"/hello"},
		User:         "65532:65532",
		OS:           "linux",
		Architecture: "amd64",
	}, time.Unix(0, 0))
	if err != nil {
		log.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "ocibuild")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := ocibuild.WriteDockerArchive(filepath.Join(dir, "hello.tar"), img, "localhost/hello:v1"); err != nil {
		log.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cf.Config.Entrypoint, cf.Config.User)
	// Output: [/hello] 65532:65532
}
