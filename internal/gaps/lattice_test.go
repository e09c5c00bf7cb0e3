package gaps

import (
	"math"
	"math/rand/v2"
	"testing"
)

// fixedSched describes hand-built windows of a fixed schedule for the
// steps' tests: turns of slice every period, jobs of job (ns) whose
// remainder at a switch-in and age at a switch-out are uniform in
// [0, job). drift is the standard deviation of each turn start's step
// (accumulating, as relative timers make it); skip lists turns in which
// the guest was idle (no window ends there); spurious adds short windows
// off the lattice in the turns after these, at the fractions hiccupAt of
// the slice (0.37 when empty).
type fixedSched struct {
	n                  int
	period, slice, job float64
	drift              float64
	skip, spurious     map[int]bool
	hiccupAt           []float64
	// jumpAt > 0: the turns from jumpAt on start jump later (the host's
	// schedule restarted).
	jumpAt               int
	jump                 float64
	seed                 uint64
	notAnchored, notBusy bool
}

// obs returns the windows (relative to the first end) and the true
// start of each turn (same origin), indexed by turn.
func (f fixedSched) obs() ([]obs, []float64) {
	rng := rand.New(rand.NewPCG(f.seed, 1))
	starts := make([]float64, f.n+1)
	for k := 1; k <= f.n; k++ {
		starts[k] = starts[k-1] + f.period + f.drift*rng.NormFloat64()
		if k == f.jumpAt {
			starts[k] += f.jump
		}
	}
	var o []obs
	prevBusy := false
	for k := 1; k <= f.n; k++ {
		if f.skip[k] {
			prevBusy = false
			continue
		}
		s := starts[k-1] + f.slice - f.job*rng.Float64()
		e := starts[k] + f.job*rng.Float64()
		o = append(o, obs{s: s, e: e, anchored: !f.notAnchored, adjacent: prevBusy && !f.notBusy, comps: uint64(f.slice / f.job)})
		prevBusy = true
		if f.spurious[k] {
			// hiccups inside the next turn: short, off the lattice
			hs := f.hiccupAt
			if len(hs) == 0 {
				hs = []float64{0.37}
			}
			for _, h := range hs {
				at := starts[k] + h*f.slice
				o = append(o, obs{s: at, e: at + 3*f.job, anchored: true, comps: 1})
			}
		}
	}
	e0 := o[0].e
	for i := range o {
		o[i].s -= e0
		o[i].e -= e0
	}
	for k := range starts {
		starts[k] -= e0
	}
	return o, starts
}

func TestFitLattice(t *testing.T) {
	const ms = 1e6
	cases := []struct {
		name      string
		f         fixedSched
		p0        float64 // trial period
		wantLocal bool
		minIn     float64 // least inlier fraction
		maxErr    float64 // period's largest relative error
	}{
		{"rigid", fixedSched{n: 200, period: 12.4 * ms, slice: 6 * ms, job: 0.25 * ms, seed: 1}, 12.4 * ms, false, 1, 1e-4},
		{"rigid, trial 1% off", fixedSched{n: 200, period: 12.4 * ms, slice: 6 * ms, job: 0.25 * ms, seed: 2}, 12.52 * ms, false, 1, 1e-4},
		{"skipped turns", fixedSched{n: 200, period: 12.8 * ms, slice: 3 * ms, job: 0.2 * ms, seed: 3,
			skip: map[int]bool{5: true, 6: true, 40: true, 41: true, 42: true, 99: true, 150: true}}, 12.8 * ms, false, 1, 1e-4},
		{"spurious windows", fixedSched{n: 200, period: 12.4 * ms, slice: 6 * ms, job: 0.25 * ms, seed: 4,
			spurious: map[int]bool{10: true, 30: true, 50: true, 70: true, 90: true, 110: true}}, 12.4 * ms, false, 0.95, 1e-4},
		{"spurious windows, trial 1% off", fixedSched{n: 200, period: 12.4 * ms, slice: 6 * ms, job: 0.25 * ms, seed: 7,
			spurious: map[int]bool{3: true, 4: true, 5: true, 30: true, 31: true, 50: true, 70: true, 90: true, 91: true, 92: true, 110: true}}, 12.52 * ms, false, 0.94, 1e-4},
		{"drifting turns", fixedSched{n: 300, period: 12.4 * ms, slice: 6 * ms, job: 0.05 * ms, drift: 0.15 * ms, seed: 5}, 12.4 * ms, true, 0.95, 2e-3},
		{"drifting 0.4 ms a turn", fixedSched{n: 300, period: 12.4 * ms, slice: 6 * ms, job: 0.05 * ms, drift: 0.4 * ms, seed: 9}, 12.4 * ms, true, 0.95, 2e-3},
		// the turns after a restart are tracked from a new anchor
		{"phase jump", fixedSched{n: 400, period: 12.4 * ms, slice: 6 * ms, job: 0.05 * ms, jumpAt: 200, jump: 5 * ms, seed: 10}, 12.4 * ms, true, 0.95, 2e-3},
		{"drifting turns, hiccups", fixedSched{n: 300, period: 12.4 * ms, slice: 6 * ms, job: 0.05 * ms, drift: 0.15 * ms, seed: 8,
			spurious: every(9, 300), hiccupAt: []float64{0.55}}, 12.4 * ms, true, 0.85, 2e-3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o, _ := c.f.obs()
			fit := fitLattice(o, c.p0, tolerance(c.f.job, c.p0), true)
			if fit.local != c.wantLocal {
				t.Fatalf("local = %v, want %v (inliers %.2f)", fit.local, c.wantLocal, fit.inliers)
			}
			if rel := math.Abs(fit.period-c.f.period) / c.f.period; rel > c.maxErr {
				t.Errorf("period %.1f µs, want %.1f µs (rel. error %.2g > %.2g)", fit.period/1e3, c.f.period/1e3, rel, c.maxErr)
			}
			if fit.inliers < c.minIn {
				t.Errorf("inliers %.3f < %.3f", fit.inliers, c.minIn)
			}
			// the spurious windows (3 jobs long, inside a turn) are off it
			for i, w := range o {
				if w.e-w.s < 4*c.f.job && fit.in[i] {
					t.Errorf("spurious window %d taken as on the lattice", i)
				}
			}
			if !c.wantLocal && fit.oneStep < 1 {
				t.Errorf("oneStep %.2f, want 1 (busy windows are one period apart)", fit.oneStep)
			}
		})
	}
}

// TestFitLatticeSubMultiple: half the true period holds only every other
// lattice point: consecutive busy windows are two steps apart.
func TestFitLatticeSubMultiple(t *testing.T) {
	o, _ := fixedSched{n: 100, period: 12.4e6, slice: 6e6, job: 0.25e6, seed: 6}.obs()
	fit := fitLattice(o, 6.2e6, tolerance(0.25e6, 6.2e6), true)
	if fit.oneStep != 0 || fit.minAdjStep != 2 {
		t.Errorf("oneStep %.2f, minAdjStep %v; want 0 and 2", fit.oneStep, fit.minAdjStep)
	}
}

func TestTolerance(t *testing.T) {
	cases := []struct{ j, p0, want float64 }{
		{100e3, 4e6, 200e3},    // two jobs
		{2e6, 12e6, 2.4e6},     // at most a fifth of the period
		{10e3, 12e6, 240e3},    // at least 2 % of it
		{0, 1e6, 20e3},         // no job: 2 %
		{500e3, 2.5e6, 500e3},  // a fifth
		{150e3, 10e6, 300e3},   // two jobs
		{1e3, 100e3, 2e3},      // 2 %
		{40e3, 1e6, 80e3},      // two jobs
		{200e3, 800e3, 160e3},  // a fifth
		{100e3, 20e6, 400e3},   // 2 %
		{300e3, 12.4e6, 600e3}, // two jobs
	}
	for _, c := range cases {
		if got := tolerance(c.j, c.p0); math.Abs(got-c.want) > 1e-6 {
			t.Errorf("tolerance(%g, %g) = %g, want %g", c.j, c.p0, got, c.want)
		}
	}
}
