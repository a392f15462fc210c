package main

import (
	"slices"
	"testing"
)

func TestMonitorArgs(t *testing.T) {
	cases := []struct {
		line string
		want []string
	}{
		{`+1733100000.123456 [0 127.0.0.1:5000] "EVALSHA" "abc" "5" "k:{a}:lease" "0123456789abcdef0123456789abcdef"` + "\r\n",
			[]string{"EVALSHA", "abc", "5", "k:{a}:lease", "0123456789abcdef0123456789abcdef"}},
		{`+1.0 [0 lua] "SET" "a\"b" "c\\d" ""`, []string{"SET", `a"b`, `c\d`, ""}},
		{`+1.0 [0 lua] "GET" "unterminated`, []string{"GET"}},
		{`+OK`, nil},
	}
	for _, tc := range cases {
		if got := monitorArgs(tc.line); !slices.Equal(got, tc.want) {
			t.Errorf("monitorArgs(%q) = %q, want %q", tc.line, got, tc.want)
		}
	}
}

func TestLooksLikeToken(t *testing.T) {
	for s, want := range map[string]bool{
		"0123456789abcdef0123456789abcdef": true,
		"short":                            false,
		"baton-locks:{stock-widget}:lease": false,
		"with space in it, long enough..":  false,
	} {
		if got := looksLikeToken(s); got != want {
			t.Errorf("looksLikeToken(%q) = %v, want %v", s, got, want)
		}
	}
}
