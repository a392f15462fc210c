package chaos

import "testing"

func TestCheckConcurrency(t *testing.T) {
	term := func(inst string, fence uint64, start, end int64) Term {
		return Term{Instance: inst, Fence: fence, Start: start, End: end}
	}
	tests := []struct {
		name       string
		terms      []Term
		limit      int
		wantMax    int
		wantOver   int
		wantDup    int
		wantRecord int
	}{
		{"empty", nil, 1, 0, 0, 0, 0},
		{"two at a limit of two", []Term{term("a", 1, 0, 10), term("b", 2, 5, 15)}, 2, 2, 0, 0, 0},
		{"three at a limit of two", []Term{term("a", 1, 0, 10), term("b", 2, 5, 15), term("c", 3, 8, 20)}, 2, 3, 1, 0, 0},
		{"a start at another's end does not overlap", []Term{term("a", 1, 0, 10), term("b", 2, 10, 20)}, 1, 1, 0, 0, 0},
		{"unsorted input", []Term{term("c", 3, 8, 20), term("a", 1, 0, 10), term("b", 2, 5, 9)}, 1, 3, 2, 0, 0},
		{"a shared fence", []Term{term("a", 1, 0, 10), term("b", 1, 20, 30)}, 1, 1, 0, 1, 0},
		{"a term that ends before it starts", []Term{term("a", 1, 10, 0)}, 1, 0, 0, 0, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := CheckConcurrency(tt.terms, tt.limit)
			if c.Max != tt.wantMax || len(c.Over) != tt.wantOver || len(c.DuplicateFences) != tt.wantDup || len(c.RecordErrors) != tt.wantRecord {
				t.Errorf("max %d, over %d, duplicate fences %d, record errors %d; want %d, %d, %d, %d\n%s",
					c.Max, len(c.Over), len(c.DuplicateFences), len(c.RecordErrors),
					tt.wantMax, tt.wantOver, tt.wantDup, tt.wantRecord, c.Problems())
			}
			if c.OK() != (tt.wantOver+tt.wantDup+tt.wantRecord == 0) {
				t.Errorf("OK() = %v with problems %q", c.OK(), c.Problems())
			}
		})
	}
}
