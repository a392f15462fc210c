package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/baton-dev/baton/pkg/locks/httpapi"
)

// arrivals records, through Redis's MONITOR, the order in which owner
// tokens first appeared in a command. A waiter's first try carries its
// token, and a fair waiter's first try is its enqueue, so this is the
// order in which the waiters arrived in Redis: the order the fair lock
// promises to serve them in. A web server can only record when it sent
// its request, and requests sent a few ms apart can reach Redis in either
// order on a busy machine (two connections, two sidecar goroutines).
type arrivals struct {
	conn net.Conn
	done chan struct{}
	// dump, when not nil, receives every MONITOR line.
	dump io.Writer

	mu    sync.Mutex
	first map[string]int // argument -> index of the first command holding it
	// enqueued counts the ZADDs of each token to a fair queue (key
	// <prefix>:{<name>}:queue): more than one means that its entry was
	// dropped as dead and the waiter queued again, at the tail. The key is
	// the library's own; this is a diagnostic only.
	enqueued map[string]int
	n        int
	err      error
}

// watchArrivals opens a MONITOR connection to the Redis at addr.
// Every line also goes to dump when it is not nil.
func watchArrivals(ctx context.Context, addr string, dump io.Writer) (*arrivals, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(5 * time.Second))
	r := bufio.NewReaderSize(conn, 1<<20)
	if _, err := conn.Write([]byte("MONITOR\r\n")); err != nil {
		_ = conn.Close()
		return nil, err
	}
	line, err := r.ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "+OK" {
		_ = conn.Close()
		return nil, fmt.Errorf("MONITOR: %q %v", line, err)
	}
	_ = conn.SetDeadline(time.Time{})
	a := &arrivals{conn: conn, done: make(chan struct{}), first: map[string]int{}, enqueued: map[string]int{}, dump: dump}
	go a.read(r)
	return a, nil
}

func (a *arrivals) read(r *bufio.Reader) {
	defer close(a.done)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				a.mu.Lock()
				a.err = err
				a.mu.Unlock()
			}
			return
		}
		if a.dump != nil {
			_, _ = io.WriteString(a.dump, line)
		}
		args := monitorArgs(line)
		a.mu.Lock()
		for _, arg := range args {
			if _, seen := a.first[arg]; !seen && looksLikeToken(arg) {
				a.first[arg] = a.n
			}
		}
		if len(args) == 4 && strings.EqualFold(args[0], "ZADD") && strings.HasSuffix(args[1], ":queue") {
			a.enqueued[args[3]]++
		}
		a.n++
		a.mu.Unlock()
	}
}

// stop ends the monitoring and returns each token's arrival index and
// the number of tokens queued more than once.
func (a *arrivals) stop() (first map[string]int, requeued int, err error) {
	_ = a.conn.Close()
	<-a.done
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, n := range a.enqueued {
		if n > 1 {
			requeued++
		}
	}
	return a.first, requeued, a.err
}

// monitorArgs returns the quoted arguments of one MONITOR line,
// +<time> [<db> <client>] "CMD" "arg" ..., unescaping \" and \\ (other
// escapes stay as they are: tokens have none).
func monitorArgs(line string) []string {
	var args []string
	for {
		i := strings.IndexByte(line, '"')
		if i < 0 {
			return args
		}
		arg, rest, ok := quoted(line[i+1:])
		if !ok {
			return args
		}
		args = append(args, arg)
		line = rest
	}
}

// quoted reads s up to its first unescaped '"' and returns what it holds
// and what follows; ok is false when there is no closing quote.
func quoted(s string) (arg, rest string, ok bool) {
	var b strings.Builder
	for j := 0; j < len(s); j++ {
		switch c := s[j]; {
		case c == '\\' && j+1 < len(s) && (s[j+1] == '"' || s[j+1] == '\\'):
			b.WriteByte(s[j+1])
			j++
		case c == '"':
			return b.String(), s[j+1:], true
		default:
			b.WriteByte(c)
		}
	}
	return "", "", false
}

// looksLikeToken is true for what can be an owner token: one the API
// accepts, and at least 16 characters (the library's are 32 hex digits),
// so that short words of the protocol are not taken for tokens. Only those
// are remembered.
func looksLikeToken(s string) bool {
	return len(s) >= 16 && httpapi.ValidOwnerToken(s)
}
