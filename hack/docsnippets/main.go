// Command docsnippets keeps the Go snippets of the Markdown docs equal to
// the runnable Example functions they come from, as bsm/redislock builds
// its README from its example_test.go. A snippet is marked
//
//	<!-- example pkg/locks ExampleMutex_TryLock -->
//	```go
//	…
//	```
//	<!-- /example -->
//
// and is rewritten with that Example, doc comment included. With -check it
// changes nothing and fails when a snippet is out of date.
//
// Usage: go run ./hack/docsnippets [-check] FILE.md...
package main

import (
	"flag"
	"fmt"
	"os"
)

func main() {
	check := flag.Bool("check", false, "report out-of-date snippets instead of rewriting them")
	flag.Parse()
	stale := false
	for _, path := range flag.Args() {
		changed, err := update(path, ".", !*check)
		if err != nil {
			fmt.Fprintln(os.Stderr, "docsnippets:", err)
			os.Exit(1)
		}
		if changed && *check {
			fmt.Fprintf(os.Stderr, "docsnippets: %s: snippets differ from their examples; run make docs\n", path)
			stale = true
		}
	}
	if stale {
		os.Exit(1)
	}
}
