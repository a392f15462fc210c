package redistest

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/redis/go-redis/v9"
)

// InfoReader is the part of a go-redis client that CommandCalls uses.
type InfoReader interface {
	Info(ctx context.Context, sections ...string) *redis.StringCmd
}

// CommandCalls reads INFO commandstats from c: calls per command since the
// server started or was last reset (CONFIG RESETSTAT). Redis counts each
// command a Lua script runs as well as the EVALSHA that ran it.
func CommandCalls(ctx context.Context, c InfoReader) (map[string]int64, error) {
	info, err := c.Info(ctx, "commandstats").Result()
	if err != nil {
		return nil, fmt.Errorf("redistest: INFO commandstats: %w", err)
	}
	return ParseCommandStats(info)
}

// ParseCommandStats reads the calls of each command from the text of INFO
// commandstats, whose lines look like
//
//	cmdstat_evalsha:calls=12,usec=340,usec_per_call=28.33,...
//
// Keys are the names after "cmdstat_" ("evalsha", "pubsub|numsub"). Other
// lines (the section header, blank lines) are skipped; a cmdstat_ line
// without a whole calls= count is an error.
func ParseCommandStats(info string) (map[string]int64, error) {
	out := map[string]int64{}
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":")
		cmd, isStat := strings.CutPrefix(name, "cmdstat_")
		if !ok || !isStat {
			continue
		}
		calls, found := "", false
		for _, kv := range strings.Split(rest, ",") {
			if calls, found = strings.CutPrefix(kv, "calls="); found {
				break
			}
		}
		n, err := strconv.ParseInt(calls, 10, 64)
		if !found || err != nil || n < 0 || cmd == "" {
			return nil, fmt.Errorf("redistest: commandstats line %q has no calls count", strings.TrimSpace(line))
		}
		out[cmd] = n
	}
	return out, nil
}
