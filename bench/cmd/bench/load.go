package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"
)

// loadResult is the outcome of one load test.
type loadResult struct {
	requests int64
	errors   int64
	elapsed  time.Duration
	lat      []time.Duration
}

// loadTest sends GET path on conns keep-alive HTTP/1.1 connections to addr
// (loopback) as fast as the answers come, for dur. It speaks just enough
// HTTP to stay cheap, so that the server, not the load generator, is what
// is measured.
func loadTest(ctx context.Context, addr, path string, conns int, dur time.Duration) (loadResult, error) {
	req := []byte("GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: baton-bench\r\n\r\n")
	deadline := time.Now().Add(dur)
	type worker struct {
		n, errs int64
		lat     []time.Duration
		err     error
	}
	ws := make([]worker, conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i := range ws {
		w := &ws[i]
		w.lat = make([]time.Duration, 0, 1<<14)
		wg.Go(func() {
			c, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(ctx, "tcp", addr)
			if err != nil {
				w.err = err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(deadline.Add(10 * time.Second))
			br := bufio.NewReaderSize(c, 4096)
			for ctx.Err() == nil {
				t := time.Now()
				if t.After(deadline) {
					return
				}
				if _, err := c.Write(req); err != nil {
					w.err = err
					return
				}
				ok, err := readResponse(br)
				if err != nil {
					w.err = err
					return
				}
				w.lat = append(w.lat, time.Since(t))
				w.n++
				if !ok {
					w.errs++
				}
			}
		})
	}
	wg.Wait()
	r := loadResult{elapsed: time.Since(start)}
	for _, w := range ws {
		if w.err != nil {
			return r, fmt.Errorf("load connection: %w", w.err)
		}
		r.requests += w.n
		r.errors += w.errs
		r.lat = append(r.lat, w.lat...)
	}
	return r, nil
}

// readResponse reads one HTTP/1.1 response with a Content-Length body and
// reports whether its status was 200 or 503 (a follower's valid answer).
func readResponse(br *bufio.Reader) (bool, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return false, err
	}
	ok := bytes.HasPrefix(line, []byte("HTTP/1.1 200")) || bytes.HasPrefix(line, []byte("HTTP/1.1 503"))
	length := -1
	for {
		line, err = br.ReadSlice('\n')
		if err != nil {
			return false, err
		}
		if len(line) <= 2 {
			break
		}
		if k, v, found := bytes.Cut(line, []byte(":")); found && bytes.EqualFold(k, []byte("Content-Length")) {
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return false, err
			}
		}
	}
	if length < 0 {
		return false, fmt.Errorf("response without Content-Length")
	}
	_, err = br.Discard(length)
	return ok, err
}
