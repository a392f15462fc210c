package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// storeClient calls the store.
type storeClient struct {
	base   string
	client *http.Client
}

func newStoreClient(base string) *storeClient {
	return &storeClient{base: strings.TrimSuffix(base, "/"), client: &http.Client{
		Timeout:   10 * time.Second,
		Transport: &http.Transport{MaxIdleConnsPerHost: 1024, IdleConnTimeout: 90 * time.Second},
	}}
}

// read returns the product; fence > 0 makes it a fenced read.
func (c *storeClient) read(ctx context.Context, product string, fence uint64) (productBody, error) {
	path := "/products/" + url.PathEscape(product)
	if fence > 0 {
		path += "?fence=" + strconv.FormatUint(fence, 10)
	}
	return c.do(ctx, http.MethodGet, path, nil)
}

// write sets the product's stock under fence (0 for an unlocked write).
func (c *storeClient) write(ctx context.Context, product string, stock int64, fence uint64) (productBody, error) {
	b, _ := json.Marshal(writeBody{Stock: stock, Fence: fence})
	return c.do(ctx, http.MethodPut, "/products/"+url.PathEscape(product)+"/stock", b)
}

func (c *storeClient) do(ctx context.Context, method, path string, body []byte) (productBody, error) {
	var p productBody
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, strings.NewReader(string(body)))
	if err != nil {
		return p, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return p, fmt.Errorf("shop: store: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return p, fmt.Errorf("shop: store: %w", err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		if err := json.Unmarshal(b, &p); err != nil {
			return p, fmt.Errorf("shop: store: %w: %s", err, b)
		}
		return p, nil
	case http.StatusConflict:
		return p, fmt.Errorf("%w: %s", errStaleFence, strings.TrimSpace(string(b)))
	default:
		return p, fmt.Errorf("shop: store: %s %s: %d %s", method, path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
}
