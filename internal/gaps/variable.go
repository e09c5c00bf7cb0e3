package gaps

import (
	"fmt"
	"math"
	"slices"
)

type variableFit struct {
	slice, sliceErr, period, periodErr float64
	vfs                                int
	inliers                            float64
	// slot is the grid's slot (Slice + switch cost). slotted: the windows
	// sit on that grid although the period could not be measured: they
	// are switch-outs all the same.
	slotted bool
	slot    float64
	// hidden is the time of the switches between the slots of each
	// busy stretch (every neighbour idle, the host switched straight
	// back: too short to leave a window), hiddenN their number.
	hidden, hiddenN float64
	// psi is a turn start on the slot grid (relative to the first
	// window's end, as the observations): turns start at psi + k·slot.
	psi float64
}

// inferVariable fits the variable (work-conserving) schedule: the host
// still switches on a grid of slots Q = Slice + switch cost, but skips idle
// VFs, so windows are whole numbers of slots apart, not one period. Window
// ends sit R ≥ 0 after a slot start, window starts U ≥ 0 before a slot's
// end: with the grid's phase ψ from the earliest end, Slice is the largest
// (start - ψ) mod Q. The period is the mean turn-to-turn time over the
// busy stretches, VFs the most seen busy at once. A non-empty string says
// why no schedule was found.
func inferVariable(o []obs, base, j float64, done completions) (variableFit, string) {
	const notSched = "windows are not separated by whole numbers of one slot: not a time-slice schedule"
	if base <= 0 {
		return variableFit{}, notSched
	}
	// A slot grid rests on many windows: with a handful, some trial
	// slot always fits them.
	if len(o) < defaults.minSlotWindows {
		return variableFit{}, fmt.Sprintf("only %d windows, and they do not recur on one period: too few to find a slot grid", len(o))
	}
	fit, ok := findSlotGrid(o, base, j)
	if !ok {
		return variableFit{}, notSched
	}
	q := fit.period
	slice, sliceErr, psi, ok := slotSlice(o, fit, j, done)
	if !ok {
		return variableFit{}, "too few windows that began with work outstanding to measure the slice"
	}
	bt := busyTurns(o, fit, j, q-slice)
	if bt.turns < defaults.minBusyTurns {
		// Sparse work (frame-paced): the off-times seen are only those
		// the guest had work in, and a turn whose neighbours were all
		// skipped leaves no window at all, so the turn-to-turn time
		// cannot be measured from them: say so rather than guess.
		return variableFit{slot: q, slice: slice, sliceErr: sliceErr, psi: psi, slotted: true}, "too few consecutive busy turns to measure the period (in variable mode a turn whose neighbours were all idle leaves no window)"
	}
	period := bt.span / bt.turns
	// The mean turn-to-turn time is a ratio estimate over the stretches
	// seen (each a span of whole turns, their share of skipped
	// neighbours random): its standard error comes from their scatter,
	// and with few turns the confidence says so.
	var ss float64
	for _, p := range bt.pairs {
		d := p[0] - period*p[1]
		ss += d * d
	}
	periodErr := max(q/bt.turns, math.Sqrt(ss)/bt.turns)
	return variableFit{slice: slice, sliceErr: sliceErr, period: period, periodErr: periodErr, vfs: bt.vfs, slot: q, inliers: fit.inliers * bt.turns / (bt.turns + defaults.turnsHalf),
		hidden: bt.hidden, hiddenN: bt.hiddenN, psi: psi}, ""
}

// findSlotGrid looks for the slot grid: the largest whole fraction
// (1/2 … 1/slotSubMultiples) of base, no shorter than minSlotJobs
// straddling jobs, whose lattice holds most windows over several slots
// with consecutive busy windows never one slot apart (else the schedule
// would be fixed).
func findSlotGrid(o []obs, base, j float64) (latticeFit, bool) {
	t := &defaults
	for m := 2; m <= t.slotSubMultiples; m++ {
		p0 := base / float64(m)
		if p0 < t.minSlotJobs*j {
			break
		}
		f := fitLattice(o, p0, tolerance(j, p0), false)
		if f.inliers >= t.slotGridInliers && f.span >= t.minSlotSpan && f.minAdjStep >= t.minSlotStep {
			return f, true
		}
	}
	return latticeFit{}, false
}

// slotSlice measures the slice on the slot grid fit: the latest phase of
// the anchored windows' starts from the grid's phase (earliest end), at
// the 1/tail quantile. Jobs phase-locked to the slot (constant jobs
// dividing it) keep U and R from reaching 0: then U+R stays one
// straddling job and the spread of the starts is small, so what the
// spread cannot account for of a job (the median gap of the recent
// completions done, when shorter than j) is added back. False with fewer
// than minSliceStarts starts.
func slotSlice(o []obs, fit latticeFit, j float64, done completions) (slice, sliceErr, psi float64, ok bool) {
	q := fit.period
	minRe := math.Inf(1)
	for i, w := range o {
		if fit.in[i] {
			minRe = min(minRe, w.e-fit.phi-q*fit.k[i])
		}
	}
	psi = fit.phi + minRe
	// The phase rests on the earliest end: its uncertainty is the
	// spacing of the lowest ends (the next-earliest above it).
	var res []float64
	for i, w := range o {
		if fit.in[i] {
			res = append(res, w.e-fit.phi-q*fit.k[i]-minRe)
		}
	}
	slices.Sort(res)
	var psiErr float64
	if len(res) > 1 {
		psiErr = res[1]
	}
	var tops []float64
	for i, w := range o {
		if fit.in[i] && w.anchored {
			tops = append(tops, math.Mod(math.Mod(w.s-psi, q)+q, q))
		}
	}
	if len(tops) < defaults.minSliceStarts {
		return 0, 0, 0, false
	}
	slices.Sort(tops)
	qi := tailAt(len(tops))
	slice = tops[len(tops)-1-qi]
	// Phase-locked jobs straddle each switch as one typical job: the
	// median gap, robust to the gaps that hold a switch straight back
	// (they inflate the length-biased mean).
	add := j
	if m := medianGap(done, q/2); m > 0 && m < add {
		add = m
	}
	slice += max(0, add-(tops[len(tops)-1]-tops[0]))
	// Both edges' order-statistic spacings, the slot's error and the
	// timestamps' resolution (microseconds in report text).
	top := tops[len(tops)-1-qi] - tops[max(len(tops)-2-qi, 0)]
	sliceErr = math.Sqrt(top*top + psiErr*psiErr + fit.periodSE*fit.periodSE + defaults.edgeRes*defaults.edgeRes)
	return slice, sliceErr, psi, true
}

// busyStretches sums the busy stretches between adjacent windows on a
// slot grid.
type busyStretches struct {
	span, turns float64      // time and whole turns (slots) covered
	pairs       [][2]float64 // (span, turns) of each stretch
	vfs         int          // the most VFs seen: 1 + off-time slots
	// hidden: the switches (c each) between the m slots of a stretch,
	// m−1 of them; hiddenN their number.
	hidden, hiddenN float64
}

// busyTurns counts the whole slots (of length fit.period, switch cost c)
// in each busy stretch between adjacent windows on the grid, and the VFs
// each window's off-time implies.
func busyTurns(o []obs, fit latticeFit, j, c float64) busyStretches {
	q := fit.period
	var b busyStretches
	for i := 1; i < len(o); i++ {
		if !o[i].adjacent || !fit.in[i] || !fit.in[i-1] {
			continue
		}
		on := o[i].s - o[i-1].e + j + c
		m := math.Round(on / q)
		if m < 1 {
			continue
		}
		b.turns += m
		b.hidden += (m - 1) * c
		b.hiddenN += m - 1
		b.span += o[i].e - o[i-1].e
		b.pairs = append(b.pairs, [2]float64{o[i].e - o[i-1].e, m})
		off := o[i].e - o[i].s - j - c
		b.vfs = min(max(b.vfs, 1+int(math.Round(off/q))), maxVFs)
	}
	return b
}
