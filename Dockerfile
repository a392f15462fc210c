# syntax=docker/dockerfile:1
# With a Docker engine: make image-docker (docker build --build-arg VERSION=...
# --build-arg REVISION=... .). Without one, `make image` builds the same image
# with hack/image; hack/image/dockerfile_test.go checks that the two agree.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
ARG REVISION=unknown
# The same flags as `make build`: static, stripped, stamped.
RUN CGO_ENABLED=0 go build -trimpath \
      -ldflags "-s -w -X main.version=${VERSION} -X main.revision=${REVISION}" \
      -o /out/baton ./cmd/sidecar

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.source="https://github.com/baton-dev/baton" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}"
COPY --from=build /out/baton /baton
# 65532 is distroless's nonroot user; numeric so runAsNonRoot can verify it.
USER 65532:65532
EXPOSE 4040 8081
ENTRYPOINT ["/baton"]
