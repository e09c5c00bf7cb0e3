package gaps

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// turnObs builds the windows of a saturating guest from its turns: turn
// i lasts on(i) (true on-time, ns), the off-time after it off(i). Each
// switch instant is seen late or early by up to a straddling job: the
// window starts U before the switch-out and ends R after the switch-in,
// U+R uniform on [0, 2j) (mean j, as spacing.lenBiased would give).
// It returns the windows and the true mean turn-to-turn time.
func turnObs(n int, j float64, seed uint64, on, off func(i int, rng *rand.Rand) float64) ([]obs, float64) {
	rng := rand.New(rand.NewPCG(seed, 9))
	var o []obs
	at := 0.0 // the current turn's start
	var first, last float64
	for i := range n + 1 {
		end := at + on(i, rng)
		next := end + off(i, rng)
		u := j * rng.Float64()
		r := 2*j*rng.Float64() - u
		if r < 0 {
			u, r = u+r, 0
		}
		o = append(o, obs{s: end - u, e: next + r, anchored: true, adjacent: i > 0, comps: 20})
		if i == 0 {
			first = next
		}
		last = next
		at = next
	}
	e0 := o[0].e
	for i := range o {
		o[i].s -= e0
		o[i].e -= e0
	}
	return o, (last - first) / float64(n)
}

func TestInferQuanta(t *testing.T) {
	const ms = 1e6
	const j = 0.25 * ms
	jitter := func(rng *rand.Rand) float64 { return 50e3 * (2*rng.Float64() - 1) }
	for _, tc := range []struct {
		name string
		on   func(i int, rng *rand.Rand) float64
		off  func(i int, rng *rand.Rand) float64
		// want: the quantum (0: no fit, and the reason holds wantWhy)
		want     float64
		wantWhy  string
		extended bool
		// switched: turns of several quanta paid a switch per quantum
		// (0.2 ms): each is that many turns, the switches hidden
		switched bool
		vfs      int
	}{
		{
			name: "liquid, one neighbour busy 70% of the time",
			on: func(_ int, rng *rand.Rand) float64 {
				m := 1.0
				for rng.Float64() > 0.7 {
					m++
				}
				return m*6*ms + jitter(rng)
			},
			off:      func(_ int, rng *rand.Rand) float64 { return 6.4*ms + jitter(rng) },
			want:     6 * ms,
			extended: true,
			vfs:      2,
		},
		{
			name: "liquid, three neighbours switched out early when their work runs out",
			on:   func(_ int, rng *rand.Rand) float64 { return 3*ms + jitter(rng) },
			off: func(_ int, rng *rand.Rand) float64 {
				off := 0.2 * ms
				for range 3 {
					if rng.Float64() < 0.6 {
						off += 0.5*ms + 2.5*ms*rng.Float64() + 0.2*ms
					}
				}
				return max(off, 0.9*ms)
			},
			want: 3 * ms,
			vfs:  4,
		},
		{
			name: "skipping host switching straight back: a switch per quantum",
			on: func(_ int, rng *rand.Rand) float64 {
				m := 1.0
				for rng.Float64() > 0.6 {
					m++
				}
				return m*6.2*ms - 0.2*ms + jitter(rng)
			},
			off:      func(_ int, rng *rand.Rand) float64 { return 6.4*ms + jitter(rng) },
			want:     6 * ms,
			switched: true,
			vfs:      2,
		},
		{
			name:    "turns of any length",
			on:      func(_ int, rng *rand.Rand) float64 { return 3*ms + 20*ms*rng.Float64() },
			off:     func(_ int, rng *rand.Rand) float64 { return 6.4 * ms },
			wantWhy: "not whole multiples",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, period := turnObs(300, j, 5, tc.on, tc.off)
			f, why := inferQuanta(o, j)
			if tc.want == 0 {
				if why == "" || !strings.Contains(why, tc.wantWhy) {
					t.Fatalf("fit %+v, reason %q; want no fit because %q", f, why, tc.wantWhy)
				}
				return
			}
			if why != "" {
				t.Fatalf("no fit: %s", why)
			}
			if d := math.Abs(f.quantum - tc.want); d > 0.005*tc.want || d > 3*f.quantumErr {
				t.Errorf("quantum %.4f ms ± %.4f, want %.4f", f.quantum/ms, f.quantumErr/ms, tc.want/ms)
			}
			if tc.switched {
				if !f.switchPerQuantum || math.Abs(f.cost-0.2*ms) > 0.02*ms || f.hiddenN == 0 || math.Abs(f.hidden-f.hiddenN*f.cost) > 1 {
					t.Errorf("switch per quantum %v, cost %.3f ms, %v hidden switches (%.3f ms); want 0.2 ms each", f.switchPerQuantum, f.cost/ms, f.hiddenN, f.hidden/ms)
				}
				// each stretch of m quanta is m turns
				period /= float64(f.turns) / 300
			} else if f.switchPerQuantum {
				t.Errorf("a switch per quantum found in whole quanta")
			}
			// the period is the mean step between window ends: it differs
			// from the truth by the first and last R only
			if d := math.Abs(f.period - period); d > 2*j/300 || d > 2*f.periodErr {
				t.Errorf("period %.4f ms ± %.4f, want %.4f", f.period/ms, f.periodErr/ms, period/ms)
			}
			if (f.extended > 0) != tc.extended {
				t.Errorf("%d extended turns, want some: %v", f.extended, tc.extended)
			}
			if tc.extended && !f.wholeQuanta(0.2*ms) {
				t.Errorf("extended turns not told whole quanta: intercept %.1f µs ± %.1f", f.intercept/1e3, f.interceptErr/1e3)
			}
			if f.vfs != tc.vfs {
				t.Errorf("%d VFs seen busy, want %d", f.vfs, tc.vfs)
			}
			if f.spread <= 0 && !tc.switched {
				t.Errorf("spread %v, want > 0", f.spread)
			}
		})
	}
}

// TestWholeQuanta: the intercept must tell whole quanta (0) from a
// switch per quantum (−c) before a holding slot grid is overruled.
func TestWholeQuanta(t *testing.T) {
	for _, tc := range []struct {
		f    quantaFit
		c    float64
		want bool
	}{
		{quantaFit{extended: 10, intercept: 5e3, interceptErr: 10e3}, 200e3, true},
		{quantaFit{extended: 10, intercept: -190e3, interceptErr: 10e3}, 200e3, false},  // a switch per quantum
		{quantaFit{extended: 10, intercept: 60e3, interceptErr: 70e3}, 200e3, false},    // cannot tell
		{quantaFit{extended: 10, intercept: 60e3, interceptErr: 70e3}, 20e3, true},      // no switch between slots
		{quantaFit{extended: 1, intercept: 0, interceptErr: math.Inf(1)}, 200e3, false}, // too few extended turns
	} {
		if got := tc.f.wholeQuanta(tc.c); got != tc.want {
			t.Errorf("%+v with c %.0f µs: %v, want %v", tc.f, tc.c/1e3, got, tc.want)
		}
	}
}

// TestOffVaries: a fixed lattice's busy windows keep one length; a
// liquid host's (neighbours switched out early) do not.
func TestOffVaries(t *testing.T) {
	const ms = 1e6
	const j = 0.25 * ms
	for _, tc := range []struct {
		name string
		off  func(i int, rng *rand.Rand) float64
		want bool
	}{
		{"fixed, 100 µs jitter", func(_ int, rng *rand.Rand) float64 { return 18.6*ms + 100e3*rng.NormFloat64() }, false},
		{"neighbours switched out early", func(_ int, rng *rand.Rand) float64 { return 6.6*ms + 9*ms*rng.Float64() }, true},
	} {
		o, _ := turnObs(100, j, 3, func(int, *rand.Rand) float64 { return 6 * ms }, tc.off)
		fit := latticeFit{period: 24.8 * ms, in: make([]bool, len(o))}
		for i := range fit.in {
			fit.in[i] = true
		}
		if got := offVaries(o, fit, j); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// FuzzInferQuanta: on any turns and off-times, a fit has a positive,
// finite quantum, period and spread, and its errors are finite; no fit
// has a reason.
func FuzzInferQuanta(f *testing.F) {
	f.Add([]byte{60, 64, 60, 64, 120, 64, 60, 64, 180, 64, 60, 64, 120, 64, 60, 64, 60, 64, 60, 64}, uint16(250))
	f.Add([]byte{30, 10, 62, 64, 30, 10, 30, 64, 93, 64, 30, 20, 62, 10, 30, 64, 30, 64, 30, 10}, uint16(50))
	f.Fuzz(func(t *testing.T, b []byte, jus uint16) {
		var o []obs
		at := 0.0
		for i := 0; i+1 < len(b); i += 2 {
			end := at + float64(b[i])*100e3
			next := end + float64(b[i+1])*100e3
			o = append(o, obs{s: end, e: next, anchored: true, adjacent: len(o) > 0})
			at = next
		}
		if len(o) == 0 {
			return
		}
		j := float64(jus) * 1e3
		f, why := inferQuanta(o, j)
		finite := func(x float64) bool { return !math.IsNaN(x) && !math.IsInf(x, 0) }
		if why != "" {
			return
		}
		for _, x := range []float64{f.quantum, f.quantumErr, f.period, f.periodErr, f.spread, f.turn, f.hidden} {
			if !finite(x) {
				t.Fatalf("not finite: %+v", f)
			}
		}
		if f.quantum <= 0 || f.period <= 0 || f.turns <= 0 || f.vfs < 0 || f.hiddenN < 0 {
			t.Fatalf("fit %+v", f)
		}
	})
}

// TestLocateSplits: a turn that overran its quanta holds a switch-out
// too short to see; the longest gap between the completions inside the
// turn is it, when the completions are still retained and the gap stands
// out from the spacing.
func TestLocateSplits(t *testing.T) {
	const ms = 1e6
	// turns [0, 16.75 ms) and [25.3, 42.2 ms): the first held a 0.9 ms
	// switch-out at 8 ms; completions every 0.25 ms, none inside it
	o := []obs{{s: -8, e: 0}, {s: 16.75 * ms, e: 25.3 * ms}, {s: 42.2 * ms, e: 50 * ms}}
	// (a window ends at a completion and starts at one)
	var done []int64
	for x := 0.0; x <= 16.9*ms; x += 0.25 * ms {
		if x < 8*ms || x > 8.9*ms {
			done = append(done, int64(1e9+x))
		}
	}
	ev := &evidence{o: o, e0: 1e9, sp: spacing{mean: 0.25 * ms}, done: completions{n: len(done), at: func(i int) int64 { return done[i] }}}
	found, lost, lostN := locateSplits(ev, []splitTurn{{at: 1, off: 0.9 * ms}, {at: 2, off: 0.8 * ms}})
	if len(found) != 1 || found[0].start > int64(1e9+8*ms) || found[0].end < int64(1e9+8.9*ms) || found[0].end-found[0].start > int64(1.4*ms) {
		t.Errorf("found %v, want the gap around 8–8.9 ms", found)
	}
	// the second turn has no completions retained: its time off is lost
	if lostN != 1 || lost != 0.8*ms {
		t.Errorf("lost %v ms in %v turns, want 0.8 in 1", lost/ms, lostN)
	}
}

// TestSwitchedTurnsRefused: turns that showed a negative intercept but
// are neither whole quanta nor whole turns with a switch between them
// (the refit holds too few) give no fit, and say so; a fit that is
// refused is never taken for a sure switch per quantum.
func TestSwitchedTurnsRefused(t *testing.T) {
	const ms = 1e6
	rng := rand.New(rand.NewPCG(4, 4))
	var on, step, off, m []float64
	for i := range 40 {
		k := float64(1 + i%3)
		x := k*6.2*ms - 0.2*ms
		if i%2 == 0 {
			x += 2.5*ms + ms*rng.Float64() // half of them off any line
		}
		on = append(on, x)
		step = append(step, x+6.4*ms)
		off = append(off, 6.4*ms)
		m = append(m, k)
	}
	f, why := switchedTurns(on, step, off, m, 0.1*ms)
	if why == "" || f.quantum != 0 || f.hiddenN != 0 {
		t.Errorf("fit %+v, reason %q; want none", f, why)
	}
}

// TestEndWander: the turns' own mean period over the trace differs from
// a line's slope by the end turns' wander about it: √2·sd over the span.
func TestEndWander(t *testing.T) {
	const ms = 1e6
	o := make([]obs, 101)
	fit := latticeFit{period: 12.4 * ms, k: make([]float64, 101), in: make([]bool, 101)}
	for i := range o {
		d := 0.0
		if i%2 == 1 {
			d = 0.2 * ms // ends alternate 0 and 0.2 ms off the line
		}
		o[i].e = float64(i)*12.4*ms + d - 0.1*ms
		fit.k[i], fit.in[i] = float64(i), true
	}
	_, sd := meanSD(func() []float64 {
		r := make([]float64, len(o))
		for i := range o {
			r[i] = o[i].e - float64(i)*12.4*ms
		}
		return r
	}())
	if got, want := endWander(o, fit), math.Sqrt2*sd/100; math.Abs(got-want) > 1e-6 {
		t.Errorf("endWander %v, want %v", got, want)
	}
	fit.in = make([]bool, 101)
	if endWander(o, fit) != 0 {
		t.Error("no inliers: a wander")
	}
}
