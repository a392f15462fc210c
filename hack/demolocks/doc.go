// Command demolocks runs the shop scenario of baton's application locks
// (examples/shop): a throwaway redis-server, a store holding one product's
// stock, web servers each beside its own baton sidecar, and a round-robin
// reverse proxy in front of them. It fires concurrent purchases through the
// proxy three times, each at a fresh product: under the product's lock,
// without it, and under the fair (FIFO) lock, and checks what each must
// show:
//
//   - with the lock, exactly the stock is sold, the stock ends at 0 and no
//     sale is lost (stale-fence rejections are reported);
//   - without it, the oversell (reported, not checked);
//   - with the fair lock, the same, and no two waiters were granted the
//     lock against the order in which they arrived in Redis's queue, per
//     web server and over all of them. The arrival order comes from
//     Redis's MONITOR (each waiter's first try carries its owner token and
//     is its enqueue); each web server records when it sent every request
//     and the token and fence it got, and the fence gives the grant order.
//     The order as sent is reported too: requests sent a few ms apart can
//     reach Redis in either order on a busy machine.
//
// Then a fencing scene: a holder stalls past its 200ms lease, a second
// holder takes the lock and reads, and the store must refuse the first
// holder's late write.
//
// It cleans up and exits by itself, non-zero when a check fails (the
// processes' logs are then kept). Run it with `make demo-locks`.
package main
