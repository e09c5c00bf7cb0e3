package gaps

import (
	"slices"
	"testing"
)

// heldUpTrace builds windows and completions of a guest switched out
// every period for off, completing a job every gap while it holds the
// GPU; after each window in hiccupAfter it is held up for hold in the
// next turn, its completions then delivered at once.
func heldUpTrace(n int, period, off, gap, hold int64, hiccupAfter map[int]bool) ([]cand, []int64) {
	var ws []cand
	var done []int64
	for k := range n {
		on := int64(k) * period
		var held int64 = -1
		if hiccupAfter[k] {
			held = on + (period-off)/3
		}
		var t int64
		for t = on; t < on+period-off; t += gap {
			if held >= 0 && t >= held && t < held+hold {
				continue // delivered at held+hold, below
			}
			done = append(done, t)
		}
		if held >= 0 {
			// the held-up completions come at once, a µs apart
			for i := range hold / gap {
				done = append(done, held+hold+i*1000)
			}
			ws = append(ws, cand{start: held - gap, end: held + hold, anchored: true})
		}
		last := t - gap
		ws = append(ws, cand{start: last, end: on + period, anchored: true})
	}
	slices.SortFunc(ws, func(a, b cand) int { return int(a.end - b.end) })
	slices.Sort(done)
	return ws, done
}

func TestMajorWindows(t *testing.T) {
	hic := map[int]bool{3: true, 9: true, 15: true, 21: true, 27: true, 33: true}
	ws, done := heldUpTrace(40, 12_400_000, 6_400_000, 250_000, 1_000_000, hic)
	major := majorWindows(ws)
	if len(major) != 40 {
		t.Errorf("%d major windows, want the 40 switch-outs", len(major))
	}
	for _, w := range major {
		if w.end-w.start < 6_000_000 {
			t.Errorf("hiccup [%d, %d] taken for major", w.start, w.end)
		}
	}
	sp := spacing{n: 1000, mean: 250_000, lenBiased: 250_000}
	if !minorAreHiccups(ws, sp, completionsAt(done)) {
		t.Error("minor windows closed by bursts not taken for hiccups")
	}
	// the same short windows closed by completions at the normal spacing
	// are a schedule's own (short off-times), not hiccups
	var spaced []int64
	for _, d := range done {
		if len(spaced) == 0 || d-spaced[len(spaced)-1] >= 100_000 {
			spaced = append(spaced, d)
		}
	}
	if minorAreHiccups(ws, sp, completionsAt(spaced)) {
		t.Error("minor windows without bursts taken for hiccups")
	}
}

func TestLateEdges(t *testing.T) {
	sp := spacing{n: 1000, mean: 250_000, lenBiased: 250_000}
	cases := []struct {
		name    string
		hiccups map[int]bool
		want    bool
	}{
		{"held up again and again", map[int]bool{2: true, 5: true, 8: true, 11: true, 14: true, 17: true}, true},
		{"once", map[int]bool{5: true}, false},
		{"never", nil, false},
	}
	for _, c := range cases {
		ws, done := heldUpTrace(30, 12_400_000, 6_400_000, 250_000, 1_500_000, c.hiccups)
		ls, le, h := lateEdges(ws, sp, completionsAt(done))
		if h != c.want {
			t.Errorf("%s: hiccups = %v, want %v", c.name, h, c.want)
		}
		nl := 0
		for i, w := range ws {
			if le[i] {
				nl++
				if w.end-w.start > 3_000_000 {
					t.Errorf("%s: switch-out %d has its end marked late", c.name, i)
				}
			}
			if ls[i] && !c.want {
				t.Errorf("%s: start %d marked late", c.name, i)
			}
		}
		if c.want && nl != len(c.hiccups) {
			t.Errorf("%s: %d late ends, want %d", c.name, nl, len(c.hiccups))
		}
	}
}
