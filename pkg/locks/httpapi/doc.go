// Package httpapi serves the application's locks and semaphores of
// pkg/locks over HTTP, so that an application in any language can lock
// through its sidecar. Mounted on pkg/api's handler (Locks implements
// api.Routes), the routes share its Host guard, cross-origin check and
// token; every POST and DELETE changes state. The locks live on Redis keys
// of their own (DefaultLocksPrefix):
//
//	POST   /locks/{name}?wait=5s&lease=30s&fair=true   acquire: 200 LockBody,
//	                         409 LockConflictBody (with the holder) when the
//	                         wait runs out
//	POST   /locks/{name}/renew?token=T                  renew by TTL: 200
//	                         LockBody, 409 when no longer the owner
//	DELETE /locks/{name}?token=T                        release: 200
//	                         LockReleasedBody, again 200 for a token this
//	                         API released, 409 when lost before
//	POST   /locks/{name}/stream?wait=5s&fair=true       held for the life of
//	                         the response: application/x-ndjson LockEvents
//	                         (acquired, keepalive, lost), renewed by a
//	                         watchdog, released when the client goes away
//	GET    /locks/{name}                                LockInfoBody
//
// and the same under /semaphores/{name}, with ?permits=N on acquire, stream
// and GET (SemaphoreInfoBody). Every parameter is checked before any Redis
// call: a bad one gets a 400 that names it. LocksOptions.MaxHeld bounds the
// locks and permits held, and the acquires under way, through one API;
// beyond it, 503 with Retry-After. Locks.ReleaseAll releases all of them
// at shutdown.
package httpapi
