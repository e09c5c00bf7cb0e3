package gaps

import (
	"math"
	"testing"
)

func TestBlockSlopeSE(t *testing.T) {
	const ms = 1e6
	cases := []struct {
		name     string
		f        fixedSched
		min, max float64 // bounds on the SE (ns)
	}{
		// remainders alone: the blocks' slopes agree to well under a µs
		{"rigid lattice", fixedSched{n: 400, period: 12.4 * ms, slice: 6 * ms, job: 0.05 * ms, seed: 41}, 0, 100},
		// a random walk of 50 µs steps: the blocks' slopes disagree
		{"random walk", fixedSched{n: 400, period: 12.4 * ms, slice: 6 * ms, job: 0.05 * ms, drift: 0.05 * ms, seed: 42}, 300, math.Inf(1)},
	}
	for _, c := range cases {
		o, _ := c.f.obs()
		k := make([]float64, len(o))
		in := make([]bool, len(o))
		for i, w := range o {
			k[i] = math.Round(w.e / c.f.period)
			in[i] = true
		}
		se := blockSlopeSE(o, k, in)
		if se < c.min || se > c.max {
			t.Errorf("%s: blockSlopeSE = %.1f ns, want in [%g, %g]", c.name, se, c.min, c.max)
		}
	}
	// too few windows for the blocks
	if se := blockSlopeSE(make([]obs, 10), make([]float64, 10), make([]bool, 10)); se != 0 {
		t.Errorf("10 windows: blockSlopeSE = %g, want 0", se)
	}
}

func TestLowerEnvelopeSlope(t *testing.T) {
	const p = 12.4e6
	// ends on or above k·p, the lowest at several k: the envelope is p
	rs := []float64{0, 30e3, 0, 120e3, 5e3, 0, 80e3, 0, 40e3}
	o := make([]obs, len(rs))
	k := make([]float64, len(rs))
	in := make([]bool, len(rs))
	for i, r := range rs {
		k[i] = float64(i)
		o[i].e = k[i]*p + r
		in[i] = true
	}
	if got, ok := lowerEnvelopeSlope(o, k, in); !ok || math.Abs(got-p) > 1e-6 {
		t.Errorf("slope %.3f (ok %v), want %.0f", got, ok, p)
	}
	// two turns are too few; turn indices out of order are refused
	if _, ok := lowerEnvelopeSlope(o[:2], k[:2], in[:2]); ok {
		t.Error("two points gave a slope")
	}
	k[3], k[4] = k[4], k[3]
	if _, ok := lowerEnvelopeSlope(o, k, in); ok {
		t.Error("indices out of order gave a slope")
	}
}
