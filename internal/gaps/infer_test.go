package gaps

import (
	"strings"
	"testing"
)

func TestCheckEvidence(t *testing.T) {
	win := func(n int, length int64) []cand {
		ws := make([]cand, n)
		for i := range ws {
			ws[i] = cand{start: int64(i) * 12_400_000, end: int64(i)*12_400_000 + length, anchored: true}
		}
		return ws
	}
	good := spacing{n: 1000, mean: 250e3, lenBiased: 300e3}
	cases := []struct {
		name      string
		ws        []cand
		sp        spacing
		matchFrac float64
		reason    string // part of the reason; "" when the evidence holds
	}{
		{"enough", win(20, 6_400_000), good, 1, ""},
		{"none", nil, good, 1, "no switched-out windows"},
		{"two", win(2, 6_400_000), good, 1, "only 2 switched-out window(s)"},
		{"unmatched", win(20, 6_400_000), good, 0.4, "only 40% of completions matched"},
		{"few gaps", win(20, 6_400_000), spacing{n: 7, mean: 250e3, lenBiased: 300e3}, 1, "too few completions inside turns"},
		{"long jobs", win(20, 6_400_000), spacing{n: 1000, mean: 2e6, lenBiased: 2.5e6}, 1, "too long against the no-progress windows"},
	}
	for _, c := range cases {
		got := checkEvidence(c.ws, c.sp, c.matchFrac)
		if (c.reason == "") != (got == "") || !strings.Contains(got, c.reason) {
			t.Errorf("%s: reason %q, want %q", c.name, got, c.reason)
		}
	}
}
