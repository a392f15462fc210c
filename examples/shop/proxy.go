package main

import (
	"errors"
	"flag"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

func proxyMain(args []string) (http.Handler, string, error) {
	fs := flag.NewFlagSet("shop proxy", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0: a free port)")
	backends := fs.String("backends", "", "comma-separated base URLs of the web servers (required)")
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	if *backends == "" {
		return nil, "", errors.New("--backends is required")
	}
	var urls []*url.URL
	for i, s := range strings.Split(*backends, ",") {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, "", fmt.Errorf("--backends[%d]: %q is not an http(s) base URL", i, s)
		}
		urls = append(urls, u)
	}
	return newRoundRobin(urls), *addr, nil
}

// newRoundRobin returns a reverse proxy that sends request n to
// backends[n % len(backends)]. backends must not be empty.
func newRoundRobin(backends []*url.URL) *httputil.ReverseProxy {
	var next atomic.Uint64
	return &httputil.ReverseProxy{
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(backends[(next.Add(1)-1)%uint64(len(backends))])
			r.SetXForwarded()
		},
		// Every purchase in flight holds a connection to a web server;
		// keep them for reuse instead of redialling at each burst.
		Transport: &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			writeError(w, http.StatusBadGateway, "proxy: %v", err)
		},
	}
}
