package redistest

import (
	"maps"
	"strings"
	"testing"
)

func TestParseCommandStats(t *testing.T) {
	tests := []struct {
		name    string
		info    string
		want    map[string]int64
		wantErr string
	}{
		{
			name: "section",
			info: "# Commandstats\r\n" +
				"cmdstat_evalsha:calls=12,usec=340,usec_per_call=28.33,rejected_calls=0,failed_calls=0\r\n" +
				"cmdstat_pubsub|numsub:calls=3,usec=9,usec_per_call=3.00,rejected_calls=0,failed_calls=0\r\n\r\n",
			want: map[string]int64{"evalsha": 12, "pubsub|numsub": 3},
		},
		{name: "empty", info: "# Commandstats\r\n", want: map[string]int64{}},
		{name: "other section", info: "redis_version:8.0.2\r\n", want: map[string]int64{}},
		{name: "no calls", info: "cmdstat_get:usec=3\r\n", wantErr: `"cmdstat_get:usec=3"`},
		{name: "bad count", info: "cmdstat_get:calls=x,usec=3\r\n", wantErr: "no calls count"},
		{name: "negative count", info: "cmdstat_get:calls=-1\r\n", wantErr: "no calls count"},
		{name: "no name", info: "cmdstat_:calls=1\r\n", wantErr: "no calls count"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseCommandStats(tt.info)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %s", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

// TestCommandCalls reads a real server's counts: two SETs are two calls.
func TestCommandCalls(t *testing.T) {
	c := Start(t).Client()
	for range 2 {
		if err := c.Set(t.Context(), "k", "v", 0).Err(); err != nil {
			t.Fatal(err)
		}
	}
	got, err := CommandCalls(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got["set"] != 2 {
		t.Errorf("set calls = %d, want 2 (all: %v)", got["set"], got)
	}
}
