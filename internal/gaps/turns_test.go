package gaps

import (
	"math"
	"slices"
	"testing"
)

func TestLowCluster(t *testing.T) {
	const p = 12.4e6
	cases := []struct {
		name string
		d    []float64
		want float64
	}{
		{"empty", nil, 0},
		{"one period", []float64{p, p + 1e3, p - 1e3, p + 2e3, p - 2e3}, p},
		// skipped turns give whole multiples, which must not pull it up
		{"skipped turns", []float64{p, p, p, p, p, p, 2 * p, 2 * p, 3 * p, 5 * p}, p},
		// a few spurious short spacings fall below the 20th percentile
		{"spurious short", []float64{0.3 * p, p - 1e3, p, p, p, p + 1e3, p, p, p, 2 * p}, p},
		// a value alone: the band holds nothing else
		{"lone", []float64{p}, p},
	}
	for _, c := range cases {
		d := slices.Clone(c.d)
		slices.Sort(d)
		if got := lowCluster(d); math.Abs(got-c.want) > 2e3 {
			t.Errorf("%s: lowCluster = %.0f, want %.0f", c.name, got, c.want)
		}
	}
}

func TestFindTurns(t *testing.T) {
	const ms = 1e6
	sp := spacing{n: 1000, mean: 0.25 * ms, lenBiased: 0.25 * ms, sd: 0}
	cases := []struct {
		name      string
		f         fixedSched
		wantFixed bool
	}{
		{"strict round robin", fixedSched{n: 150, period: 12.4 * ms, slice: 6 * ms, job: 0.25 * ms, seed: 11}, true},
		{"guest idle at some turns", fixedSched{n: 150, period: 24.8 * ms, slice: 6 * ms, job: 0.25 * ms, seed: 12,
			skip: map[int]bool{3: true, 4: true, 20: true, 77: true, 78: true, 79: true}}, true},
		{"hiccups off the lattice", fixedSched{n: 150, period: 12.4 * ms, slice: 6 * ms, job: 0.25 * ms, seed: 13,
			spurious: map[int]bool{7: true, 19: true, 33: true, 60: true, 81: true, 99: true, 120: true}}, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, _ := c.f.obs()
			tr := findTurns(o, sp.lenBiased, sp, defaults.minInliers)
			if tr.fixed != c.wantFixed {
				t.Fatalf("fixed = %v, want %v", tr.fixed, c.wantFixed)
			}
			if rel := math.Abs(tr.fit.period-c.f.period) / c.f.period; rel > 1e-4 {
				t.Errorf("period %.1f µs, want %.1f µs", tr.fit.period/1e3, c.f.period/1e3)
			}
		})
	}
	// A variable schedule: windows on a slot grid of 6.2 ms, our VF's
	// turns 2 to 4 slots apart (idle neighbours skipped): no fixed period.
	o := slotObs(120, 6.2*ms, 6*ms, 0.25*ms, 4, 21)
	if tr := findTurns(o, sp.lenBiased, sp, defaults.minInliers); tr.fixed {
		t.Errorf("slot grid taken for a fixed lattice of period %.2f ms", tr.fit.period/1e6)
	}
}

// TestWindowless: a long busy stretch with no window, the guest
// progressing all along, counts beyond its first period; a stretch that
// progressed at the fixed share does not.
func TestWindowless(t *testing.T) {
	const p, off, gap = 10e6, 5e6, 0.1e6
	busy := func(d float64, comps uint64) obs { return obs{e: d, adjacent: true, comps: comps} }
	cases := []struct {
		name  string
		steps []obs // e holds each step's length
		want  float64
	}{
		{"every period", []obs{busy(p, 50), busy(p, 50), busy(p, 50)}, 0},
		{"missed window, usual share", []obs{busy(p, 50), busy(2*p, 100)}, 0},
		{"served throughout", []obs{busy(p, 50), busy(3*p, 300)}, 2 * p / (4 * p)},
		{"not busy in between", []obs{busy(p, 50), {e: 3 * p, comps: 300}}, 0},
	}
	for _, c := range cases {
		o := []obs{{}}
		for _, s := range c.steps {
			s.e += o[len(o)-1].e
			o = append(o, s)
		}
		if got := windowless(o, p, off, gap); math.Abs(got-c.want) > 1e-9 {
			t.Errorf("%s: windowless = %.3f, want %.3f", c.name, got, c.want)
		}
	}
}
