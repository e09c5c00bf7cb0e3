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
		// most turns skipped: the 20th percentile, not the median
		{"mostly skipped", []float64{p, p, p, 2 * p, 2 * p, 2 * p, 2 * p, 2 * p, 3 * p, 3 * p}, p},
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
		// two hiccups in a sixth of the turns: the short spacings they
		// make set the plain base; the spacings longer than an off-time
		// do not
		{"two hiccups at many turns", fixedSched{n: 150, period: 12.4 * ms, slice: 6 * ms, job: 0.25 * ms, seed: 14, spurious: every(6, 150), hiccupAt: []float64{0.2, 0.5}}, true},
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
	// two VFs: a lattice of two slots holds five windows in six, one
	// slot holds them all
	if tr := findTurns(twoVFSlots(6.2*ms, 2, 2, 2, 2, 3, 3), sp.lenBiased, sp, defaults.minInliers); tr.fixed {
		t.Errorf("two VFs' slot grid taken for a fixed lattice of period %.2f ms", tr.fit.period/1e6)
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

// every returns the multiples of k up to n.
func every(k, n int) map[int]bool {
	m := map[int]bool{}
	for i := k; i <= n; i += k {
		m[i] = true
	}
	return m
}

// TestFinerGrid: a lattice that leaves many windows off while half its
// period holds them all is a slot grid; spurious windows off a true
// lattice are not.
func TestFinerGrid(t *testing.T) {
	const ms = 1e6
	const q, j = 6.2 * ms, 0.25 * ms
	slots := twoVFSlots(q, 3, 2, 2)
	// hiccups ending 5 ms into a turn: off every whole fraction of it
	fixed, _ := fixedSched{n: 120, period: 2 * q, slice: 6 * ms, job: j, seed: 15, spurious: every(4, 120), hiccupAt: []float64{0.708}}.obs()
	cases := []struct {
		name string
		o    []obs
		fit  latticeFit // zero: fitted on 2q
		want bool
	}{
		{"slot grid", slots, latticeFit{}, true},
		{"fixed lattice with spurious windows", fixed, latticeFit{}, false},
		{"slot grid, the lattice nearly as good", slots, latticeFit{period: 2 * q, inliers: 0.9}, false},
	}
	for _, c := range cases {
		fit := c.fit
		if fit.period == 0 {
			fit = fitLattice(c.o, 2*q, tolerance(j, 2*q), true)
		}
		if got := finerGrid(c.o, fit, j); got != c.want {
			t.Errorf("%s: finerGrid = %v, want %v (the 2q lattice holds %.2f)", c.name, got, c.want, fit.inliers)
		}
	}
}

// twoVFSlots are windows two or three slots q apart (our VF and a
// neighbour, idle now and then, on a variable host), each ending within
// a job of a slot start, all busy in between: steps cycles through the
// numbers of slots between them.
func twoVFSlots(q float64, steps ...float64) []obs {
	var slots []obs
	at := 0.0
	for i := range 120 {
		at += steps[i%len(steps)] * q
		slots = append(slots, obs{s: at - q + 5.9e6, e: at + 0.1e6 + float64(i%5)*20e3, anchored: true, adjacent: true, comps: 24})
	}
	return slots
}
