package main

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	good := config{baton: "b", shop: "s", servers: 3, purchases: 100, stock: 10, wait: time.Second, lease: time.Second}
	if err := good.validate(); err != nil {
		t.Fatalf("good config: %v", err)
	}
	cases := []struct {
		name   string
		change func(*config)
		want   string
	}{
		{"no baton", func(c *config) { c.baton = "" }, "--baton"},
		{"no servers", func(c *config) { c.servers = 0 }, "--servers"},
		{"too many purchases", func(c *config) { c.purchases = 5001 }, "--purchases"},
		{"stock above purchases", func(c *config) { c.stock = 101 }, "--stock"},
		{"zero stock", func(c *config) { c.stock = 0 }, "--stock"},
		{"zero lease", func(c *config) { c.lease = 0 }, "--lease"},
		{"negative delay", func(c *config) { c.delay = -time.Millisecond }, "--delay"},
	}
	for _, tc := range cases {
		c := good
		tc.change(&c)
		if err := c.validate(); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v; want an error naming %s", tc.name, err, tc.want)
		}
	}
}
