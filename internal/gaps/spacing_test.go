package gaps

import (
	"math"
	"testing"
)

// TestSpacingInTurns: jobs of 0.5 and 2 ms, equally frequent, seen as
// gaps inside 6 ms turns: a job is cut by a switch in proportion to its
// length, so 11/12 of the short and 2/3 of the long ones are seen.
// spacingInTurns weighs them back.
func TestSpacingInTurns(t *testing.T) {
	const ms = 1e6
	var h gapHist
	for range 1100 {
		h.add(int64(0.5 * ms))
	}
	for range 800 {
		h.add(int64(2 * ms))
	}
	cases := []struct {
		name                string
		slice               float64
		mean, lenBiased, sd float64
	}{
		{"cut corrected", 6 * ms, 1.25 * ms, 4.25 / 2 / 1.25 * ms, 0.75 * ms},
		{"no slice: as seen", 0, (1100*0.5 + 800*2) / 1900.0 * ms, (1100*0.25 + 800*4) / (1100*0.5 + 800*2) * ms, -1},
	}
	for _, c := range cases {
		sp := spacingInTurns(&h, nbGap, c.slice)
		if sp.n != 1900 || math.Abs(sp.mean-c.mean) > 1 || math.Abs(sp.lenBiased-c.lenBiased) > 1 || (c.sd >= 0 && math.Abs(sp.sd-c.sd) > 1) {
			t.Errorf("%s: n %d mean %.1f µs lenBiased %.1f µs sd %.1f µs; want 1900, %.1f, %.1f, %.1f", c.name, sp.n, sp.mean/1e3, sp.lenBiased/1e3, sp.sd/1e3, c.mean/1e3, c.lenBiased/1e3, c.sd/1e3)
		}
	}
	// a job as long as the slice is weighted no more than defaults.cutWeight
	var g gapHist
	g.add(int64(1 * ms))
	g.add(int64(6 * ms))
	sp := spacingInTurns(&g, nbGap, 6*ms)
	if want := (1*ms*(1/(1-1.0/6)) + 6*ms*defaults.cutWeight) / (1/(1-1.0/6) + defaults.cutWeight); math.Abs(sp.mean-want) > 1 {
		t.Errorf("mean %.1f µs, want %.1f µs", sp.mean/1e3, want/1e3)
	}
}
