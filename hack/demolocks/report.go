package main

// report is a run's rounds.
type report struct {
	// dir holds the processes' logs; it is kept after a failed run.
	dir    string
	rounds []*roundResult
	fence  *fenceResult
}

// failures lists every failed check of every round.
func (r *report) failures() []string {
	var f []string
	for _, rr := range r.rounds {
		f = append(f, rr.failures()...)
	}
	if r.fence != nil {
		f = append(f, r.fence.failures()...)
	}
	return f
}

// round returns the round with title, nil if it did not run.
func (r *report) round(title string) *roundResult {
	for _, rr := range r.rounds {
		if rr.spec.title == title {
			return rr
		}
	}
	return nil
}
