// Command shop is the runnable scenario of baton's application locks: web
// servers behind a load balancer that sell one product's stock, each taking
// the product's lock through its own baton sidecar.
//
// One binary plays three roles:
//
//   - The store holds the stock and refuses stale fences: a read or write
//     that carries a fence lower than the highest it has seen for the
//     product is rejected (and counted), so a web server whose lease ran out
//     in the middle of a purchase can never overwrite a newer holder's work.
//   - A web server handles POST /buy: it takes the product's lock through
//     its sidecar (POST /locks/{name}?wait=&lease=[&fair=true]), reads the
//     stock, writes stock-1 with the lock's fence, and releases the lock
//     (DELETE /locks/{name}?token=). With ?lock=none it does the same
//     read-modify-write without the lock, which oversells.
//   - The proxy spreads requests over the web servers, round robin.
//
// For example:
//
//	shop store --product widget --stock 100
//	shop web   --name web-1 --baton http://127.0.0.1:4040 --store http://127.0.0.1:8081
//	shop proxy --backends http://127.0.0.1:8082,http://127.0.0.1:8083
//
// Each role prints "listening on http://HOST:PORT" once it serves, and
// stops on SIGTERM or Ctrl-C. `make demo-locks` (hack/demolocks) runs them
// all against real sidecars. Like examples/batchjob, the program uses only
// the standard library, so that its parts can be copied into an
// application's code base.
package main
