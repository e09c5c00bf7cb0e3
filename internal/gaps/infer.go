package gaps

import (
	"fmt"
	"math"
	"strings"
	"time"
)

// grid is a detected fixed schedule's timing: turns start at
// psi + k·period (trace clock, ns) after an off-time of off; margin is
// how far either side of a turn start is in doubt. The classification
// uses it to tell a window that crosses a turn start (see
// crossesTurnStart).
type grid struct {
	ok bool
	// slotted: no schedule, but the windows lie on a slot grid (variable
	// mode, period unmeasurable): they are still switch-outs.
	slotted bool
	// rigid: the switch instants sit sharply on the lattice (the
	// extremes of the window edges held), so each window's off-time can
	// be read from it; turns that jitter or drift leave it false.
	rigid            bool
	psi, period, off float64
	// offErr is the off-time's standard error: common to every window
	// whose off-time is read from the grid.
	offErr float64
	margin float64
	// hidden (variable mode): the time off inferred inside busy
	// stretches, too short to leave a window (a skipping host switching
	// straight back; a turn of whole quanta holding a switch-out whose
	// gap was not found), and its error.
	hidden, hiddenErr float64
	// slot, slotPsi, slotMargin (variable mode, a slot grid): turns
	// start at slotPsi + k·slot (trace clock), known to slotMargin.
	slot, slotPsi, slotMargin float64
	// extra (whole quanta) are switch-outs found inside turns that
	// overran their quanta: too short for the threshold, windows all
	// the same.
	extra []span
}

// evidence is what the steps read: the windows as observations, the job
// spacing inside turns and the recent completions.
type evidence struct {
	o    []obs
	e0   float64 // trace time of the first window's end (o's origin), ns
	j    float64 // the straddling job: sp.lenBiased
	sp   spacing
	sat  bool // the guest saturates (see saturating)
	done completions
	// thr is the window threshold (ns): stretches at least this long
	// are candidates of their own.
	thr float64
}

// lateMarks marks the window edges set by late deliveries (see lateEdges).
type lateMarks struct{ start, end []bool }

// schedule is a fixed or variable schedule before its checks.
type schedule struct {
	mode                               Mode
	slice, sliceErr, period, periodErr float64
	off                                float64
	vfs                                int     // variable: the most VFs seen busy
	slot                               float64 // variable: slice + switch cost, the slot grid's step
	// turn (whole quanta, when turns ran several): the mean turn, and
	// its standard error; spread (variable): the turn-to-turn times'
	// standard deviation; cost: the switch cost when measured.
	turn, turnErr, spread, cost float64
	psi                         float64 // fixed: a turn start
	onGrid                      bool    // fixed, turns on one lattice (not drifting)
	rigid                       bool    // fixed, the switch instants sharp on it (the extremes held)
	factors                     []factor
	notes                       []string
}

// infer estimates the schedule from switched-out windows ws (time order)
// with job spacing sp, the gap clusters' separation sep, the fraction
// of completions matched to a submission and the window threshold thr; done, when not nil, visits the
// recent completion times. When g is not nil it receives a fixed
// schedule's grid (or the slot grid's mark). The model and the steps are
// described in doc.go and docs/inference.md.
//
// When no schedule fits all the windows, it is looked for again among the
// major ones alone (see majorWindows): on a loaded guest the driver's
// thread or the vCPU is held up now and then, and each hiccup leaves a
// short no-progress stretch (completions delivered late, in a burst) that
// no lattice holds.
func infer(ws []cand, sp spacing, sep, matchFrac, thr float64, g *grid, done completions) Timeslice {
	t := &defaults
	ts := inferAll(ws, sp, sep, matchFrac, thr, g, done, t.minInliers)
	if ts.Detected || len(ws) < 2*t.minWindows {
		return ts
	}
	major := majorWindows(ws)
	if len(major) == len(ws) || len(major) < t.minWindows || !minorAreHiccups(ws, sp, done) {
		return ts
	}
	var g2 grid
	ts2 := inferAll(major, sp, sep, matchFrac, thr, &g2, done, t.minMajorInliers)
	if !ts2.Detected {
		return ts
	}
	if g != nil {
		*g = g2
	}
	minor := len(ws) - len(major)
	ts2.Windows = len(ws)
	// the schedule rests on part of the evidence only
	ts2.Confidence *= float64(len(major)) / float64(len(ws))
	note := fmt.Sprintf("%d short no-progress stretches off the schedule (the guest held up: completions delivered late) left out", minor)
	if ts2.Reason != "" {
		note += "; " + ts2.Reason
	}
	ts2.Reason = note
	return ts2
}

// inferAll runs the steps on all of ws: check the evidence, find the
// turns (a fixed lattice holding at least minIn of the windows), then
// either the fixed schedule (classify late edges, off-time, turn phase,
// slice) or the variable one (slot grid), check the result, count the
// VFs and weigh the confidence.
func inferAll(ws []cand, sp spacing, sep, matchFrac, thr float64, g *grid, done completions, minIn float64) Timeslice {
	t := &defaults
	n := len(ws)
	ts := Timeslice{Mode: ModeNone, Windows: n}
	if ts.Reason = checkEvidence(ws, sp, matchFrac); ts.Reason != "" {
		return ts
	}
	o, e0 := observe(ws)
	ev := &evidence{o: o, e0: e0, j: sp.lenBiased, sp: sp, sat: saturating(o), done: done, thr: thr}
	tr := findTurns(o, ev.j, sp, minIn)
	var s schedule
	// What the share and the windows take from a variable schedule, kept
	// until the schedule is accepted.
	var pend struct {
		hidden, hiddenErr float64
		extra             []span
		v                 variableFit // the slot grid's, when it is the schedule
	}
	if tr.fixed {
		s = fixedSchedule(ev, ws, tr.fit)
	} else {
		v, reason := inferVariable(o, tr.base, ev.j, ev.done)
		qf, qreason := inferQuanta(o, ev.j)
		// Turns of several whole quanta are a liquid host's: the slot
		// grid would count each quantum as a turn. Without them the slot
		// grid, when it holds, reads the slice from the switch instants.
		// A slot grid whose slice disagrees with the turns measured
		// directly is a sub-multiple that happened to fit.
		if qreason == "" && (reason != "" || qf.wholeQuanta(v.slot-v.slice) || math.Abs(v.slice-qf.quantum) > tolerance(ev.j, qf.quantum)) {
			reason = ""
			s = quantaSchedule(qf)
			if qf.hiddenN > 0 {
				pend.hidden, pend.hiddenErr = qf.hidden, qf.hiddenN*qf.quantumErr
			}
			if qf.splitN > 0 {
				// The switch-outs inside split turns become windows where
				// the completions show them, else hidden time off.
				found, lost, lostN := locateSplits(ev, qf.split)
				pend.extra = found
				if lostN > 0 {
					pend.hidden, pend.hiddenErr = pend.hidden+lost, math.Hypot(pend.hiddenErr, qf.splitErr*math.Sqrt(lostN/qf.splitN))
				}
			}
		} else if reason != "" {
			ts.Reason = reason
			if v.slotted && n >= t.minSlotWindows {
				ts.Reason = fmt.Sprintf("the windows are switch-outs on a grid of %.2f ms slots (slice ≈ %.2f ms), but %s", v.slot/1e6, v.slice/1e6, reason)
				if g != nil {
					g.slotted = true
					g.setSlots(ev.e0, v)
				}
			}
			return ts
		} else {
			s = variableSchedule(v)
			pend.v = v
			if qreason == "" {
				// Two readings of the slice: the latest switch-out on the
				// slot grid, and the mean busy turn. Where they differ,
				// the difference is the doubt.
				s.sliceErr = math.Hypot(s.sliceErr, v.slice-qf.quantum)
			}
			if v.hiddenN > 0 {
				// The switches straight back inside busy stretches, each
				// the slot less the slice: that switch is known only as
				// well as the slice. Sure when the turns themselves showed
				// a switch per quantum (their reading of it joins the
				// doubt), else they may as well be whole quanta (none),
				// and the error says so.
				c := v.slot - v.slice
				// the slice is an extreme of the switch-outs: besides its
				// error, the straddling job's model doubt (half the
				// difference between a length-biased and a typical job)
				cErr := math.Hypot(s.sliceErr, (ev.j-ev.sp.mean)/2)
				sure := qreason == "" && qf.switchPerQuantum
				if sure {
					cErr = math.Hypot(cErr, c-qf.cost)
				}
				pend.hidden, pend.hiddenErr = v.hiddenN*c, v.hiddenN*cErr
				if !sure {
					pend.hiddenErr = max(pend.hiddenErr, pend.hidden/2)
				}
				s.notes = append(s.notes, fmt.Sprintf("%.0f switches straight back (every neighbour idle) inferred inside busy stretches, too short to see: counted as switched out", v.hiddenN))
			}
		}
	}
	ts.Mode, ts.VFs = s.mode, s.vfs
	if reason := s.check(ev.j); reason != "" {
		ts.Mode, ts.Reason = ModeNone, reason
		return ts
	}
	if turnComps(o) < t.minTurnComps {
		s.notes = append(s.notes, "few completions per turn")
		s.factors = append(s.factors, factor{"completions", t.fewComps})
	}
	slice, sliceErr, period, periodErr := s.slice, s.sliceErr, s.period, s.periodErr
	ts.Detected = true
	if s.onGrid && g != nil {
		*g = grid{ok: true, rigid: s.rigid, psi: s.psi, period: period, off: s.off, offErr: sliceErr, margin: sliceErr + t.gridMargin}
	}
	ts.Slice = time.Duration(slice)
	ts.SliceErr = time.Duration(sliceErr)
	ts.Period = time.Duration(period)
	ts.PeriodErr = time.Duration(periodErr)
	ts.ScheduleShare = slice / period
	ts.ScheduleShareErr = ts.ScheduleShare * math.Hypot(sliceErr/slice, periodErr/period)
	ts.PeriodSpread = time.Duration(s.spread)
	if s.turn > 0 {
		// Turns of several quanta: the schedule gives the mean turn.
		ts.Turn, ts.TurnErr = time.Duration(s.turn), time.Duration(s.turnErr)
		ts.ScheduleShare = s.turn / period
		ts.ScheduleShareErr = ts.ScheduleShare * math.Hypot(s.turnErr/s.turn, periodErr/period)
	}
	if ts.Mode == ModeFixed {
		ts.VFs, ts.SwitchCost = vfs(period, slice)
	} else if s.cost > 0 {
		ts.SwitchCost = time.Duration(s.cost)
	} else if s.slot > 0 {
		// The host switches on a grid of slots of Slice + switch cost
		// (the mean turn-to-turn time counts skipped neighbours).
		ts.SwitchCost = time.Duration(max(0, s.slot-slice))
	}
	s.factors = append(s.factors, estimateFactors(n, sep, ev.j, matchFrac, slice, sliceErr, period, periodErr)...)
	ts.Confidence = confidence(s.factors)
	if n < t.fewWindows {
		s.notes = append(s.notes, fmt.Sprintf("only %d windows", n))
	}
	if len(s.notes) > 0 {
		ts.Reason = strings.Join(s.notes, "; ")
	}
	for _, x := range []float64{slice, sliceErr, period, periodErr, ts.ScheduleShare, ts.ScheduleShareErr, ts.Confidence} {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return Timeslice{Mode: ModeNone, Windows: n, Reason: "numerically degenerate estimate"}
		}
	}
	if g != nil {
		g.hidden, g.hiddenErr, g.extra = pend.hidden, pend.hiddenErr, pend.extra
		if pend.v.slot > 0 {
			g.setSlots(ev.e0, pend.v)
		}
	}
	return ts
}

// checkEvidence says why the windows cannot carry a schedule ("" when
// they can): too few windows, completions unmatched, too few in-turn gaps
// to know the job spacing, or jobs too long against the windows.
func checkEvidence(ws []cand, sp spacing, matchFrac float64) string {
	t := &defaults
	n := len(ws)
	switch {
	case n == 0:
		return "no switched-out windows: completions never stopped while work was outstanding (passthrough, or a VF alone on its GPU)"
	case n < t.minWindows:
		return fmt.Sprintf("only %d switched-out window(s); at least %d are needed", n, t.minWindows)
	case matchFrac < t.minMatchFrac:
		return fmt.Sprintf("only %.0f%% of completions matched a submission: outstanding work is unknown", 100*matchFrac)
	case sp.n < t.minNormalGaps:
		return "too few completions inside turns to measure the job spacing (jobs as long as a slice?)"
	}
	j := sp.lenBiased
	lens := make([]float64, n)
	for i, w := range ws {
		lens[i] = float64(w.end - w.start)
	}
	if ml := median(lens); j > t.maxJobFrac*ml {
		return fmt.Sprintf("jobs (%.2f ms) too long against the no-progress windows (%.2f ms) to resolve the schedule", j/1e6, ml/1e6)
	}
	return ""
}

// fixedSchedule completes a fixed lattice fit into a schedule: late
// edges (when the turns do not drift), the off-time, the turn phase and
// the slice.
func fixedSchedule(ev *evidence, ws []cand, fit latticeFit) schedule {
	n := len(ws)
	late := lateMarks{start: make([]bool, n), end: make([]bool, n)}
	hiccups := false
	if !fit.local {
		late.start, late.end, hiccups = lateEdges(ws, ev.sp, ev.done)
	}
	ot := estimateOff(ev, fit, late)
	s := schedule{mode: ModeFixed, period: fit.period, periodErr: max(fit.periodSE, fit.blockSE, fit.envDiff), onGrid: !fit.local, rigid: !fit.local && rigidEnds(ev, fit)}
	if !fit.local {
		// The turns' own mean period over the trace (first turn to last)
		// differs from the line's slope by the wander of its end turns
		// about the line: a host that charges overruns to the next slice,
		// or jitters its switches, moves them.
		s.periodErr = math.Hypot(s.periodErr, endWander(ev.o, fit))
	}
	if outageInside(ev.o, fit.period) && fit.span > 0 {
		// A host that resumes after an outage may restart its round
		// robin anywhere: the phase jumps by up to half a period, which
		// moves a slope fitted across it by up to that over the span.
		s.periodErr = max(s.periodErr, fit.period/(2*float64(fit.span)))
	}
	s.psi = turnPhase(ev, fit)
	s.slice, s.off = refineSlice(ev, s.psi, s.period, ot, hiccups)
	// Timestamps are microseconds in report text: no slice is known to
	// better than its two edges' resolution.
	s.sliceErr = math.Sqrt(s.periodErr*s.periodErr + ot.se*ot.se + defaults.edgeRes*defaults.edgeRes)
	if d := math.Abs(s.slice - (s.period - ot.mean)); ot.ext && ev.sat && d > (ev.j-ev.sp.mean)/2 {
		// The extremes rest on switch instants sharp on the lattice, the
		// mean on the straddling job's model, which holds to within half
		// the difference between a length-biased and a typical job: host
		// jitter below the job spacing moves the first (the earliest end,
		// the latest start and the latest completion are the turns it
		// moved most) without blurring the edge enough to show. Where
		// the guest saturates (else the mean is only a bound) and the two
		// slices differ by more than the mean's own doubt, the difference
		// is the doubt.
		s.sliceErr = math.Hypot(s.sliceErr, d)
	}
	s.factors = []factor{{"lattice", fit.inliers}}
	if fit.local {
		s.notes = append(s.notes, "turns drift around the period (host jitter): period from the mean step, slice from the mean window")
	}
	if !consecutiveBusy(ev.o) {
		s.notes = append(s.notes, "no two consecutive turns observed busy")
		s.factors = append(s.factors, factor{"consecutive", defaults.noConsecutive})
	}
	return s
}

// endWander is how far the mean turn-to-turn time from the first
// turn on fit to the last may lie from its slope: the residuals' spread
// at both ends over the turns between (√2·sd/span).
func endWander(o []obs, fit latticeFit) float64 {
	var r []float64
	kmin, kmax := math.Inf(1), math.Inf(-1)
	for i, w := range o {
		if fit.in[i] {
			r = append(r, w.e-fit.phi-fit.period*fit.k[i])
			kmin, kmax = min(kmin, fit.k[i]), max(kmax, fit.k[i])
		}
	}
	if len(r) < 3 || kmax <= kmin {
		return 0
	}
	_, sd := meanSD(r)
	return math.Sqrt2 * sd / (kmax - kmin)
}

// outageInside reports whether a window lasts several periods (an outage,
// a starved VF, a hang) between others.
func outageInside(o []obs, period float64) bool {
	for i := 1; i+1 < len(o); i++ {
		if o[i].e-o[i].s > defaults.outagePeriods*period {
			return true
		}
	}
	return false
}

// variableSchedule is the schedule of a variable fit.
func variableSchedule(v variableFit) schedule {
	return schedule{
		mode: ModeVariable, slice: v.slice, sliceErr: v.sliceErr, period: v.period, periodErr: v.periodErr,
		off: v.period - v.slice, vfs: v.vfs, slot: v.slot,
		factors: []factor{{"lattice", defaults.variable * v.inliers}},
		notes:   []string{"turns do not recur on one period (idle neighbours skipped): Period is the mean turn-to-turn time, VFs the most seen busy at once"},
	}
}

// setSlots records the slot grid of v (observations relative to e0).
func (g *grid) setSlots(e0 float64, v variableFit) {
	g.slot, g.slotPsi, g.slotMargin = v.slot, e0+v.psi, v.sliceErr+defaults.gridMargin
}

// quantaSchedule is the schedule of turns of whole quanta: the slice is
// the quantum; the mean turn, when turns ran several, gives the
// schedule share.
func quantaSchedule(f quantaFit) schedule {
	s := schedule{
		mode: ModeVariable, slice: f.quantum, sliceErr: f.quantumErr, period: f.period, periodErr: f.periodErr,
		off: f.period - f.turn, vfs: f.vfs, spread: f.spread, cost: f.cost,
		factors: []factor{{"lattice", defaults.variable * f.inliers * float64(f.turns) / (float64(f.turns) + defaults.turnsHalf)}},
		notes:   []string{"turns do not recur on one period (idle neighbours skipped): Period is the mean turn-to-turn time, VFs the most seen busy at once"},
	}
	if f.hiddenN > 0 {
		s.notes = append(s.notes, fmt.Sprintf("turns come back to back when every neighbour is idle, a %.2f ms switch between them too short to see: %.0f such switches counted as switched out", f.cost/1e6, f.hiddenN))
	}
	if f.splitN > 0 {
		s.notes = append(s.notes, fmt.Sprintf("%.0f turns overran their whole quanta by %.2f ms on average: a switch-out too short to see inside each (a neighbour switched out early), counted", f.splitN, f.splitOff/f.splitN/1e6))
	}
	if f.extended > 0 {
		s.turn, s.turnErr = f.turn, f.turnErr
		s.notes[0] = fmt.Sprintf("turns last whole quanta (%d of %d ran several: a VF whose neighbours are idle keeps the GPU, as on a liquid host): Slice is the quantum, the mean turn %.2f ms, Period the mean turn-to-turn time (spread %.2f ms), VFs the most seen busy at once", f.extended, f.turns, f.turn/1e6, f.spread/1e6)
	}
	return s
}

// check says why the schedule is not a resolved one ("" when it is):
// inconsistent numbers, or straddling jobs j too long against the slice.
func (s *schedule) check(j float64) string {
	if s.slice <= 0 || s.off <= 0 || s.slice >= s.period {
		return fmt.Sprintf("inconsistent estimate (slice %.2f ms, period %.2f ms)", s.slice/1e6, s.period/1e6)
	}
	if j > defaults.maxJobSlice*s.slice {
		return fmt.Sprintf("jobs (%.2f ms) too long against the apparent slice (%.2f ms) to resolve it", j/1e6, s.slice/1e6)
	}
	return ""
}

// consecutiveBusy reports whether two consecutive turns were seen busy
// (an adjacent window).
func consecutiveBusy(o []obs) bool {
	for i := 1; i < len(o); i++ {
		if o[i].adjacent {
			return true
		}
	}
	return false
}

// turnComps is the median count of completions in the busy turns
// between adjacent windows (+Inf when there are none).
func turnComps(o []obs) float64 {
	var c []float64
	for i := 1; i < len(o); i++ {
		if o[i].adjacent {
			c = append(c, float64(o[i].comps))
		}
	}
	if len(c) == 0 {
		return math.Inf(1)
	}
	return median(c)
}
