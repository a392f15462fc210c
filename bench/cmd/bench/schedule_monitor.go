package main

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// monitorConn is a connection in MONITOR mode whose lines feed a
// cmdTally. MONITOR lists every command Redis runs, but administrative
// ones, which the replicas do not send.
type monitorConn struct {
	conn   net.Conn
	marker string

	mu   sync.Mutex
	err  error
	seen chan struct{} // closed when the marker's ECHO, or an error, is read
	once sync.Once
}

// startMonitor opens a MONITOR connection to addr and returns once Redis
// has confirmed it: every command run after that reaches tally.
func startMonitor(ctx context.Context, addr string, tally *cmdTally) (*monitorConn, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("monitor: %w", err)
	}
	m := &monitorConn{conn: conn, marker: fmt.Sprintf("bench-monitor-end-%d", time.Now().UnixNano()), seen: make(chan struct{})}
	r := bufio.NewReaderSize(conn, 1<<20)
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("monitor: %w", err)
	}
	if line, err := r.ReadString('\n'); err != nil || line != "+OK\r\n" {
		_ = conn.Close()
		return nil, fmt.Errorf("monitor: reply %q, %v", line, err)
	}
	_ = conn.SetDeadline(time.Time{})
	go m.read(r, tally)
	return m, nil
}

// read feeds tally until the marker's ECHO or an error.
func (m *monitorConn) read(r *bufio.Reader, tally *cmdTally) {
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			m.done(fmt.Errorf("monitor: %w", err))
			return
		}
		text, ok := strings.CutPrefix(strings.TrimSuffix(line, "\r\n"), "+")
		if !ok {
			m.done(fmt.Errorf("monitor: unexpected reply %.80q", line))
			return
		}
		l, err := parseMonitor(text)
		if err != nil {
			m.done(err)
			return
		}
		if len(l.args) == 2 && strings.EqualFold(l.args[0], "echo") && l.args[1] == m.marker {
			m.done(nil)
			return
		}
		tally.add(l)
	}
}

func (m *monitorConn) done(err error) {
	m.once.Do(func() {
		m.mu.Lock()
		m.err = err
		m.mu.Unlock()
		close(m.seen)
	})
}

// finish sends the marker through admin and waits, within limit, until the
// monitor has read every command before it.
func (m *monitorConn) finish(ctx context.Context, admin *redis.Client, limit time.Duration) error {
	if err := admin.Echo(ctx, m.marker).Err(); err != nil {
		return fmt.Errorf("monitor marker: %w", err)
	}
	t := time.NewTimer(limit)
	defer t.Stop()
	select {
	case <-m.seen:
	case <-t.C:
		return fmt.Errorf("monitor: marker not read within %v", limit)
	case <-ctx.Done():
		return ctx.Err()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.err
}

func (m *monitorConn) close() { _ = m.conn.Close() }
