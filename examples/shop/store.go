package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
)

// The store's API:
//
//	PUT  /products/{name}          {"stock":100}            create or restock (the fence mark stays)
//	GET  /products/{name}[?fence=F]                          the product; with a fence, a fenced read
//	PUT  /products/{name}/stock    {"stock":99,"fence":F}    write the stock
//
// A fenced read or a write whose fence is below the product's mark (the
// highest fence seen) gets 409 and counts as a rejection; any other raises
// the mark to its fence. Fencing the read too closes the gap a fenced write
// alone leaves open: holder A's lease runs out, B takes the lock and reads,
// A's late write lands, and B's write (with the higher fence) would
// silently repeat A's decrement. With the read fenced, A's write is refused.
// Unlocked writes carry no fence (0), which the store accepts only while no
// fenced access has happened: they are for the demo's unlocked product.

// storeMain parses the store's flags.
func storeMain(args []string) (http.Handler, string, error) {
	fs := flag.NewFlagSet("shop store", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:0", "listen address (port 0: a free port)")
	product := fs.String("product", "", "a product to create at start (default: none; PUT /products/{name} creates one)")
	stock := fs.Int64("stock", 100, "stock of --product")
	if err := fs.Parse(args); err != nil {
		return nil, "", err
	}
	s := newStore()
	if *product != "" {
		if err := s.restock(*product, *stock); err != nil {
			return nil, "", err
		}
	}
	return s.handler(), *addr, nil
}

var (
	errStaleFence     = errors.New("store: stale fence")
	errNoProduct      = errors.New("store: no such product")
	errNegativeStock  = errors.New("store: stock must not be negative")
	errBadProductName = errors.New("store: product name must be 1 to 64 letters, digits, '-', '_' or '.'")
)

// productBody is a product's state, the answer to every store call.
type productBody struct {
	Name  string `json:"name"`
	Stock int64  `json:"stock"`
	// Fence is the highest fence the store has seen for the product.
	Fence uint64 `json:"fence"`
	// Writes counts accepted stock writes since the last restock.
	Writes int64 `json:"writes"`
	// Rejected counts stale-fence rejections (reads and writes) since the
	// last restock.
	Rejected int64 `json:"rejected"`
}

// writeBody is the body of PUT /products/{name}/stock.
type writeBody struct {
	Stock int64  `json:"stock"`
	Fence uint64 `json:"fence"`
}

// store is an in-memory stock keeper. Its methods are safe for concurrent
// use.
type store struct {
	mu       sync.Mutex
	products map[string]*productBody
}

func newStore() *store { return &store{products: map[string]*productBody{}} }

// restock sets name's stock, creating the product if needed, and zeroes
// its counters. The fence mark stays: fences only grow, and a restock must
// not let a stale holder back in.
func (s *store) restock(name string, stock int64) error {
	if !validProductName(name) {
		return fmt.Errorf("%w: %q", errBadProductName, name)
	}
	if stock < 0 {
		return fmt.Errorf("%w: %d", errNegativeStock, stock)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.products[name]
	if p == nil {
		p = &productBody{Name: name}
		s.products[name] = p
	}
	p.Stock, p.Writes, p.Rejected = stock, 0, 0
	return nil
}

// read returns name's state. A fence > 0 makes it a fenced read: below the
// mark it is rejected, otherwise it raises the mark.
func (s *store) read(name string, fence uint64) (productBody, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.products[name]
	if p == nil {
		return productBody{}, fmt.Errorf("%w: %q", errNoProduct, name)
	}
	if fence > 0 {
		if err := p.admit(fence); err != nil {
			return *p, err
		}
	}
	return *p, nil
}

// write sets name's stock under fence.
func (s *store) write(name string, w writeBody) (productBody, error) {
	if w.Stock < 0 {
		return productBody{}, fmt.Errorf("%w: %d", errNegativeStock, w.Stock)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.products[name]
	if p == nil {
		return productBody{}, fmt.Errorf("%w: %q", errNoProduct, name)
	}
	if err := p.admit(w.Fence); err != nil {
		return *p, err
	}
	p.Stock = w.Stock
	p.Writes++
	return *p, nil
}

// admit checks fence against the mark and raises it; the caller holds the
// store's mutex.
func (p *productBody) admit(fence uint64) error {
	if fence < p.Fence {
		p.Rejected++
		return fmt.Errorf("%w: %d is below %d, the highest seen for %q", errStaleFence, fence, p.Fence, p.Name)
	}
	p.Fence = fence
	return nil
}

func (s *store) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("PUT /products/{name}", func(w http.ResponseWriter, r *http.Request) {
		var body struct {
			Stock *int64 `json:"stock"`
		}
		if err := decode(r.Body, &body); err != nil || body.Stock == nil {
			writeError(w, http.StatusBadRequest, `body: want {"stock":N}`)
			return
		}
		name := r.PathValue("name")
		if err := s.restock(name, *body.Stock); err != nil {
			writeError(w, http.StatusBadRequest, "%v", err)
			return
		}
		p, _ := s.read(name, 0)
		writeJSON(w, http.StatusOK, p)
	})
	mux.HandleFunc("GET /products/{name}", func(w http.ResponseWriter, r *http.Request) {
		var fence uint64
		if f := r.URL.Query().Get("fence"); f != "" {
			var err error
			if fence, err = strconv.ParseUint(f, 10, 64); err != nil {
				writeError(w, http.StatusBadRequest, "fence: %q is not a fence", f)
				return
			}
		}
		p, err := s.read(r.PathValue("name"), fence)
		answer(w, p, err)
	})
	mux.HandleFunc("PUT /products/{name}/stock", func(w http.ResponseWriter, r *http.Request) {
		var body writeBody
		if err := decode(r.Body, &body); err != nil {
			writeError(w, http.StatusBadRequest, `body: want {"stock":N,"fence":F}: %v`, err)
			return
		}
		p, err := s.write(r.PathValue("name"), body)
		answer(w, p, err)
	})
	return mux
}

// answer writes a store call's result: 200 with the product, 409 for a
// stale fence, 404 for a missing product, 400 otherwise.
func answer(w http.ResponseWriter, p productBody, err error) {
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, p)
	case errors.Is(err, errStaleFence):
		writeError(w, http.StatusConflict, "%v", err)
	case errors.Is(err, errNoProduct):
		writeError(w, http.StatusNotFound, "%v", err)
	default:
		writeError(w, http.StatusBadRequest, "%v", err)
	}
}

// decode reads one JSON value of at most 4 KiB with no unknown fields.
func decode(r io.Reader, v any) error {
	d := json.NewDecoder(io.LimitReader(r, 4096))
	d.DisallowUnknownFields()
	return d.Decode(v)
}

func validProductName(s string) bool {
	if s == "" || len(s) > 64 {
		return false
	}
	for _, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
