package locks

import "github.com/baton-dev/baton/internal/lockcore"

// DefaultFenceMemory is the number of names a FenceMemory of size 0
// remembers.
const DefaultFenceMemory = lockcore.DefaultFenceMemory

// FenceMemory remembers, per name, the highest fence a client has seen and
// until when a lease it issued or saw can be valid, so that an acquire
// after Redis lost writes quarantines the name instead of granting it
// again (see the package doc). It is safe for concurrent use.
type FenceMemory = lockcore.FenceMemory

// NewFenceMemory returns a memory of size names (DefaultFenceMemory when 0).
func NewFenceMemory(size int) (*FenceMemory, error) { return lockcore.NewFenceMemory(size) }
