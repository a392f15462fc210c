// Command image builds baton's container images without a container
// engine (`make image`): static Go binaries and a few Debian binaries,
// each image one reproducible layer, written as docker-archive tarballs
// (`ctr -n k8s.io images import bin/images/baton.tar`, or `docker load`)
// and into one OCI image layout. The same commit gives the same digests:
// every timestamp is SOURCE_DATE_EPOCH, the commit's time.
//
//	go run ./hack/image -version v1.2.3 -revision abc -source-date-epoch "$(git log -1 --format=%ct)"
//
// The images, under -out:
//
//	baton.tar     localhost/baton:<version>, localhost/baton:e2e
//	batchjob.tar  localhost/batchjob:e2e (examples/batchjob)
//	pause.tar     localhost/pause:e2e (hack/image/pause, the pod sandbox)
//	redis.tar     localhost/redis:e2e (Debian's redis-server, for redis.enabled=true)
//	busybox.tar   localhost/busybox:e2e (Debian's busybox-static, for shell-script jobs)
//	shop.tar      localhost/shop:e2e (examples/shop, when it exists)
//	oci/          all of them as an OCI image layout
package main
