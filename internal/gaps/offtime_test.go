package gaps

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestSharpEdge(t *testing.T) {
	const g = 250e3 // mean job, ns
	rng := rand.New(rand.NewPCG(51, 0))
	renewal := func(n int, jitter float64) []float64 {
		x := make([]float64, n)
		for i := range x {
			// the remainder of a job straddling the switch-in: density
			// 1/g at 0, plus the host's jitter of the switch instant
			x[i] = g*rng.Float64() + jitter*rng.NormFloat64()
		}
		slices.Sort(x)
		return x
	}
	cases := []struct {
		name string
		x    []float64
		want bool
	}{
		{"renewal remainders", renewal(200, 0), true},
		{"renewal, 1 µs jitter", renewal(400, 1e3), true},
		{"spread by 100 µs jitter", renewal(200, 100e3), false},
		{"spread by 60 µs jitter", renewal(400, 60e3), false},
		{"too few to tell", renewal(7, 100e3), true},
	}
	for _, c := range cases {
		if got := sharpEdge(c.x, g); got != c.want {
			t.Errorf("%s: sharpEdge = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestRobustCore(t *testing.T) {
	const off, j = 6.2e6, 0.25e6
	bulk := []float64{off, off + 10e3, off - 10e3, off + 20e3, off - 20e3, off + 5e3, off - 5e3, off + 15e3, off, off + 1e3}
	cases := []struct {
		name    string
		x       []float64
		dropped []float64
	}{
		{"cut short and stretched", append(slices.Clone(bulk), off-3e6, off+5e6), []float64{off - 3e6, off + 5e6}},
		{"within three jobs", append(slices.Clone(bulk), off+0.7e6), nil},
		{"too few to judge", []float64{off, off, off, off, 1e6, 50e6, off}, nil},
		// widely spread: four median deviations (2.8 ms) keep more than
		// three jobs would
		{"four MADs", []float64{off - 1e6, off - 0.8e6, off - 0.5e6, off - 0.2e6, off, off + 0.2e6, off + 0.5e6, off + 0.8e6, off + 1e6, off + 2.9e6, off + 9e6}, []float64{off + 9e6}},
	}
	for _, c := range cases {
		got := robustCore(c.x, j)
		if len(got) != len(c.x)-len(c.dropped) {
			t.Errorf("%s: kept %d of %d, want %d dropped", c.name, len(got), len(c.x), len(c.dropped))
		}
		for _, d := range c.dropped {
			if slices.Contains(got, d) {
				t.Errorf("%s: kept %.0f", c.name, d)
			}
		}
	}
}

// TestEstimateOff: on a rigid lattice the extremes give the off-time to
// a small part of a job; with drifting turns the mean gives it to
// within its own error.
func TestEstimateOff(t *testing.T) {
	const ms = 1e6
	cases := []struct {
		name    string
		f       fixedSched
		wantExt bool
		tol     float64 // ns
	}{
		{"rigid", fixedSched{n: 300, period: 12.4 * ms, slice: 6 * ms, job: 0.25 * ms, seed: 61}, true, 15e3},
		{"drifting", fixedSched{n: 300, period: 12.4 * ms, slice: 6 * ms, job: 0.05 * ms, drift: 0.15 * ms, seed: 62}, false, 30e3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, _ := c.f.obs()
			// uniform remainder and age: together one job on average
			sp := spacing{n: 5000, mean: c.f.job, lenBiased: c.f.job, sd: c.f.job / 4}
			ev := &evidence{o: o, j: sp.lenBiased, sp: sp, sat: saturating(o)}
			fit := fitLattice(o, c.f.period, tolerance(ev.j, c.f.period), true)
			late := lateMarks{start: make([]bool, len(o)), end: make([]bool, len(o))}
			ot := estimateOff(ev, fit, late)
			want := c.f.period - c.f.slice
			if ot.ext != c.wantExt || math.Abs(ot.off-want) > c.tol {
				t.Errorf("off %.1f µs (ext %v, se %.1f µs), want %.1f µs ± %.0f (ext %v)", ot.off/1e3, ot.ext, ot.se/1e3, want/1e3, c.tol/1e3, c.wantExt)
			}
		})
	}
}

// completionsAt is a completions over the times ts (sorted).
func completionsAt(ts []int64) completions {
	return completions{n: len(ts), at: func(i int) int64 { return ts[i] }}
}

func TestPhaseLocked(t *testing.T) {
	const j = 300e3
	same := []float64{6.5e6, 6.5e6, 6.5e6, 6.5e6, 6.5e6, 6.5e6, 6.5e6, 6.5e6 + 1e3}
	spread := []float64{6.2e6, 6.3e6, 6.4e6, 6.5e6, 6.6e6, 6.7e6, 6.8e6, 6.9e6}
	// completions every 280 µs (the typical job; j is length-biased)
	var ts []int64
	for i := range 100 {
		ts = append(ts, int64(i)*280e3)
	}
	cases := []struct {
		name    string
		core    []float64
		done    completions
		want    bool
		wantOff float64
	}{
		{"every window alike", same, completionsAt(ts), true, 6.5e6 - 280e3},
		{"windows spread", spread, completionsAt(ts), false, 0},
		{"too few windows", same[:5], completionsAt(ts), false, 0},
		{"no completions known", same, completions{}, false, 0},
	}
	for _, c := range cases {
		off, ok := phaseLocked(c.core, j, c.done)
		if ok != c.want || math.Abs(off-c.wantOff) > 1 {
			t.Errorf("%s: phaseLocked = %.0f, %v; want %.0f, %v", c.name, off, ok, c.wantOff, c.want)
		}
	}
}
