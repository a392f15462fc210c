//go:build linux

package harness

import (
	"reflect"
	"testing"
	"time"
)

func TestSplitRule(t *testing.T) {
	for _, tc := range []struct {
		line string
		want []string
	}{
		{"-A FORWARD -i baton0 ! -o baton0 -j DROP", []string{"-A", "FORWARD", "-i", "baton0", "!", "-o", "baton0", "-j", "DROP"}},
		{`-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule in this chain" -j KUBE-NODEPORTS`,
			[]string{"-A", "KUBE-SERVICES", "-m", "comment", "--comment", "kubernetes service nodeports; NOTE: this must be the last rule in this chain", "-j", "KUBE-NODEPORTS"}},
		{`-A X -m comment --comment "a \"quoted\" word" -j Y`, []string{"-A", "X", "-m", "comment", "--comment", `a "quoted" word`, "-j", "Y"}},
		{`-A X -m comment --comment "" -j Y`, []string{"-A", "X", "-m", "comment", "--comment", "", "-j", "Y"}},
		{"", nil},
	} {
		if got := splitRule(tc.line); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitRule(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestParseCRILog(t *testing.T) {
	in := "2026-12-02T01:00:00.000000001Z stdout F one\n" +
		"2026-12-02T01:00:00.5Z stderr P par\n" +
		"2026-12-02T01:00:00.6Z stderr F tial\n" +
		"not a log line\n" +
		"2026-12-02T01:00:01Z stdout F \n"
	got := parseCRILog(in, "p", 2)
	want := []struct {
		text string
		at   string
	}{{"one", "2026-12-02T01:00:00.000000001Z"}, {"partial", "2026-12-02T01:00:00.6Z"}, {"", "2026-12-02T01:00:01Z"}}
	if len(got) != len(want) {
		t.Fatalf("got %d lines %+v, want %d", len(got), got, len(want))
	}
	for i, w := range want {
		at, _ := time.Parse(time.RFC3339Nano, w.at)
		if got[i].Text != w.text || !got[i].Time.Equal(at) || got[i].Pod != "p" || got[i].Attempt != 2 {
			t.Errorf("line %d = %+v, want %q at %v", i, got[i], w.text, at)
		}
	}
}

func TestFirstServiceIP(t *testing.T) {
	for cidr, want := range map[string]string{"10.96.0.0/16": "10.96.0.1", "172.20.8.0/24": "172.20.8.1"} {
		if got := firstServiceIP(cidr).String(); got != want {
			t.Errorf("firstServiceIP(%s) = %s, want %s", cidr, got, want)
		}
	}
}
