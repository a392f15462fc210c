package lockcore

import (
	"context"

	"github.com/redis/go-redis/v9"
)

// The engine's plumbing for pkg/runs, which keeps keys and scripts of its
// own on a Lock's validated options and client.

// FencePrelude is read.lua and fence.lua, to compile in front of a script
// that takes fences (F.last, F.next) or reads keys a foreign value could
// occupy (read).
var FencePrelude = fenceSource

// Script runs script on the lock's client, bounded by ctx and by
// Options.AttemptTimeout as every call of the lock is; abandoned, if not
// nil, gets the result of a call cut short once it comes (see bounded).
// It knows no MinReplicas: its callers refuse that option.
func (l *Lock) Script(ctx context.Context, script *redis.Script, keys []string, args []any, abandoned func([]any, error)) ([]any, error) {
	return bounded(ctx, l.opts.AttemptTimeout, l.direct, func(ctx context.Context) ([]any, error) {
		return script.Run(ctx, l.client, keys, args...).Slice()
	}, abandoned)
}

// Subscribe is Watch on any channels of the lock's client: one wake-up for
// a message on any of them, under Options.SubscribeTimeout.
func (l *Lock) Subscribe(ctx context.Context, channels ...string) (*Watcher, error) {
	return subscribe(ctx, l.client, l.opts.SubscribeTimeout, l.name, channels...)
}

// NewToken is a random owner token: 32 hex digits from crypto/rand.
func NewToken() (string, error) { return newToken() }

// Kind is a script reply's first element, its kind ("ok", "held", ...).
func Kind(reply []any) string { return kind(reply) }

// ReplyUint reads reply[i], a decimal string, as a fence.
func ReplyUint(reply []any, i int) (uint64, error) { return replyUint(reply, i) }

// ForeignReply reads a {'foreign', key, what} reply as a *ForeignError.
func ForeignReply(reply []any) error { return foreignError(reply) }

// Unexpected is the ErrUnexpectedReply error of reply.
func Unexpected(reply []any) error { return unexpected(reply) }
