package main

import (
	"runtime/debug"
)

// Set at build time by the Makefile and the Dockerfile:
//
//	-ldflags "-X main.version=v1.2.3 -X main.revision=abc1234"
var (
	version  = "dev"
	revision = ""
)

// buildRevision is the stamped revision, else the VCS revision Go recorded,
// else "unknown".
func buildRevision() string {
	if revision != "" {
		return revision
	}
	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				return s.Value
			}
		}
	}
	return "unknown"
}
