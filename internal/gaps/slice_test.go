package gaps

import (
	"math"
	"slices"
	"testing"
)

func TestTurnPhase(t *testing.T) {
	const ms = 1e6
	for _, sat := range []bool{false, true} {
		f := fixedSched{n: 300, period: 12.4 * ms, slice: 6 * ms, job: 0.25 * ms, seed: 71}
		o, starts := f.obs()
		sp := spacing{n: 5000, mean: f.job, lenBiased: f.job}
		ev := &evidence{o: o, e0: 1e9, j: f.job, sp: sp, sat: sat}
		fit := fitLattice(o, f.period, tolerance(f.job, f.period), true)
		psi := turnPhase(ev, fit) - ev.e0
		// psi is a turn start: its phase against the true starts
		ph := math.Mod(psi-starts[0], f.period)
		ph = math.Min(math.Abs(ph), f.period-math.Abs(ph))
		if ph > 20e3 {
			t.Errorf("saturating %v: psi %.1f µs off the true turn starts", sat, ph/1e3)
		}
	}
}

// turnCompletions are completion times in turns [k·period, k·period +
// slice) every step, for turns 0..n-1.
func turnCompletions(n int, period, slice, step float64, extra ...int64) []int64 {
	var ts []int64
	for k := range n {
		for x := 0.0; x < slice; x += step {
			ts = append(ts, int64(float64(k)*period+x))
		}
	}
	ts = append(ts, extra...)
	slices.Sort(ts)
	return ts
}

func TestRefineSlice(t *testing.T) {
	const ms = 1e6
	const period, slice, j = 12.4 * ms, 6 * ms, 0.25 * ms
	// the last completion of each turn is 6 ms - 1 µs after its start
	clean := turnCompletions(100, period, slice, 0.2*ms)
	for k := range 100 {
		clean = append(clean, int64(float64(k)*period+slice-1e3))
	}
	slices.Sort(clean)
	// three completions of a turn's end delivered late, in the off-time
	late := append(append([]int64(nil), clean...), int64(10*period+slice+0.9*ms), int64(30*period+slice+0.8*ms), int64(50*period+slice+0.85*ms))
	slices.Sort(late)
	cases := []struct {
		name    string
		done    []int64
		ot      offTime
		hiccups bool
		want    float64
	}{
		{"raised to the latest phase", clean, offTime{off: period - slice + 0.1*ms, ext: true}, false, slice - 1e3},
		{"from the mean: as it is", clean, offTime{off: period - slice + 0.1*ms}, false, slice - 0.1*ms},
		{"no higher than two jobs", clean, offTime{off: period - slice + 0.6*ms, ext: true}, false, slice - 0.6*ms},
		{"late deliveries passed over", late, offTime{off: period - slice + 0.1*ms, ext: true}, true, slice - 1e3},
	}
	for _, c := range cases {
		ev := &evidence{j: j, done: completionsAt(c.done)}
		got, off := refineSlice(ev, 0, period, c.ot, c.hiccups)
		if math.Abs(got-c.want) > 1 || math.Abs(got+off-period) > 1e-6 {
			t.Errorf("%s: slice %.4f ms (off %.4f ms), want %.4f ms", c.name, got/ms, off/ms, c.want/ms)
		}
	}
}

// TestEndsInOff: a stretch can end inside a predicted off-time only when
// its last completion was delivered late; near the off-time's edges (the
// margin and a straddling job) a switch may just be early or late.
func TestEndsInOff(t *testing.T) {
	g := grid{ok: true, rigid: true, psi: 0, period: 2.4e6, off: 1.4e6, margin: 12e3}
	const j = 54e3
	for _, tc := range []struct {
		end  int64
		want bool
	}{
		{2.4e6 + 30e3, false}, // just after a turn start: a switch-in
		{2.4e6 - 30e3, false}, // within the margin and a job of it
		{2.4e6 - 0.7e6, true}, // mid off-time
		{2.4e6 - 1.4e6 + 100e3, true},
		{2.4e6 - 1.4e6 + 40e3, false}, // at the switch-out's edge
		{0.5e6, false},                // inside a turn
	} {
		if got := g.endsInOff(tc.end, j); got != tc.want {
			t.Errorf("end %.3f ms: %v, want %v", float64(tc.end)/1e6, got, tc.want)
		}
	}
}

// TestCrossesSlot: on a slot grid (turns start at ψ + k·6.2 ms) a stretch
// that began with the guest idle and spans a slot boundary waited for a
// switch-in; one inside a slot did not.
func TestCrossesSlot(t *testing.T) {
	g := grid{slot: 6.2e6, slotPsi: 1e9, slotMargin: 20e3}
	for _, tc := range []struct {
		a, b int64
		want bool
	}{
		{1e9 + 6.0e6, 1e9 + 6.4e6, true},    // arrived 0.2 ms before a switch-in
		{1e9 + 6.25e6, 1e9 + 6.4e6, false},  // inside the turn after it
		{1e9 + 3e6, 1e9 + 3.3e6, false},     // mid-slot
		{1e9 + 6.19e6, 1e9 + 6.21e6, false}, // within the margin
		{1e9 - 0.1e6, 1e9 + 0.2e6, true},    // the boundary at ψ itself
	} {
		if got := g.crossesSlot(tc.a, tc.b); got != tc.want {
			t.Errorf("[%.2f, %.2f] ms: %v, want %v", float64(tc.a-1e9)/1e6, float64(tc.b-1e9)/1e6, got, tc.want)
		}
	}
	if (&grid{}).crossesSlot(0, 1e9) {
		t.Error("no slot grid: a crossing")
	}
}
