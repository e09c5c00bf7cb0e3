package gaps

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// slotObs builds the windows of a variable schedule: the host switches
// every slot q (slice plus a switch cost) among vfs VFs and skips each
// other VF with probability 0.3 when idle, so our VF's turns are 1 to
// vfs slots apart; windows are those of turns at least two slots apart
// (one slot apart, no switch-out is seen).
func slotObs(turns int, q, slice, job float64, vfs int, seed uint64) []obs {
	o, _ := slotObsPeriod(turns, q, slice, job, vfs, seed)
	return o
}

// slotObsPeriod is slotObs and the mean turn-to-turn time from the
// first window's end to the last's.
func slotObsPeriod(turns int, q, slice, job float64, vfs int, seed uint64) ([]obs, float64) {
	rng := rand.New(rand.NewPCG(seed, 2))
	var o []obs
	at := 0.0 // our turn's start
	first, last, n := 0.0, 0.0, 0
	for len(o) < turns {
		next := at + q
		for range vfs - 1 {
			if rng.Float64() >= 0.3 {
				next += q
			}
		}
		if next-at >= 2*q {
			s := at + slice - job*rng.Float64()
			e := next + job*rng.Float64()
			o = append(o, obs{s: s, e: e, anchored: true, adjacent: len(o) > 0, comps: uint64(slice / job)})
			if len(o) == 1 {
				first = next
			}
			last = next
		}
		if len(o) > 0 {
			n++
		}
		at = next
	}
	n-- // turns from the first window's turn to the last's
	e0 := o[0].e
	for i := range o {
		o[i].s -= e0
		o[i].e -= e0
	}
	return o, (last - first) / float64(n)
}

func TestInferVariable(t *testing.T) {
	const ms = 1e6
	o, period := slotObsPeriod(200, 6.2*ms, 6*ms, 0.25*ms, 4, 31)
	base := lowClusterOf(o)
	v, reason := inferVariable(o, base, 0.25*ms, completions{})
	if reason != "" {
		t.Fatalf("no variable fit: %s", reason)
	}
	if rel := math.Abs(v.slice-6*ms) / (6 * ms); rel > 0.01 {
		t.Errorf("slice %.3f ms, want 6 ms", v.slice/ms)
	}
	if v.vfs != 4 {
		t.Errorf("vfs %d, want 4 (all four busy now and then)", v.vfs)
	}
	if math.Abs(v.period-period)/period > 0.01 {
		t.Errorf("period %.3f ms, want the mean turn-to-turn %.3f ms", v.period/ms, period/ms)
	}
	if v.inliers < 0.85 {
		t.Errorf("inliers %.2f", v.inliers)
	}

	rng := rand.New(rand.NewPCG(9, 9))
	random := make([]obs, 100)
	for i := range random {
		if i > 0 {
			random[i].e = random[i-1].e + 5*ms + 20*ms*rng.Float64()
		}
		random[i].s = random[i].e - 3*ms
		random[i].anchored, random[i].adjacent = true, i > 0
	}
	edge := []struct {
		name   string
		o      []obs
		base   float64
		reason string // part of the reason
	}{
		{"no base", o, 0, "not separated by whole numbers of one slot"},
		{"few windows", o[:7], base, "only 7 windows"},
		{"not on slots", random, lowClusterOf(random), "not separated by whole numbers of one slot"},
	}
	for _, c := range edge {
		if _, reason := inferVariable(c.o, c.base, 0.25*ms, completions{}); !strings.Contains(reason, c.reason) {
			t.Errorf("%s: reason %q, want it to say %q", c.name, reason, c.reason)
		}
	}
}

// lowClusterOf is findTurns' base for o.
func lowClusterOf(o []obs) float64 {
	d := make([]float64, 0, len(o))
	for i := 1; i < len(o); i++ {
		d = append(d, o[i].e-o[i-1].e)
	}
	slices.Sort(d)
	return lowCluster(d)
}

// TestBusyTurnsHidden: a busy stretch of m slots holds m−1 switches
// straight back (every neighbour idle) that left no window: busyTurns
// counts them and their time at the slot's switch cost.
func TestBusyTurnsHidden(t *testing.T) {
	const ms = 1e6
	const q, slice, j = 6.2 * ms, 6 * ms, 0.1 * ms
	// stretches of 1, 3, 1, 2 and 1 slots between windows of 2 slots
	var o []obs
	at := 0.0
	for i, m := range []float64{0, 1, 3, 1, 2, 1} {
		at += m * q
		s := at - q + slice // the end of the stretch's last turn
		if i == 0 {
			s = -0.2 * ms
		}
		o = append(o, obs{s: s - j/2, e: at + q + j/2, anchored: true, adjacent: i > 0})
		at += q // the neighbour's slot
	}
	fit := latticeFit{period: q, phi: o[0].e - j/2, k: make([]float64, len(o)), in: make([]bool, len(o))}
	for i, w := range o {
		fit.k[i] = math.Round((w.e - fit.phi) / q)
		fit.in[i] = true
	}
	b := busyTurns(o, fit, j, q-slice)
	if b.hiddenN != 3 || math.Abs(b.hidden-3*(q-slice)) > 1 {
		t.Errorf("hidden %v switches, %.3f ms; want 3, %.3f ms", b.hiddenN, b.hidden/ms, 3*(q-slice)/ms)
	}
	if b.turns != 8 {
		t.Errorf("%v turns, want 8", b.turns)
	}
}
