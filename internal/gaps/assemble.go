package gaps

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"
)

// liveExactWindows: up to this many windows the live whole-run estimate
// is redone at every snapshot that brings new evidence.
const liveExactWindows = 4096

// inferCache keeps the whole-run estimate between snapshots: it is redone
// when new candidates arrived or the threshold moved (live: at most once a
// second of trace time).
type inferCache struct {
	valid bool
	gen   uint64
	tBin  int
	first int // first candidate in the horizon (Recent only)
	at    int64
	ts    Timeslice
	grid  grid
	sp    spacing // the job spacing the estimate rests on
}

// estimate infers the schedule from the switched-out windows ws: once with
// the spacing of all gaps below the threshold, and, when a schedule is
// found and the guest kept the GPU busy from turn to turn (its gaps are
// then back-to-back jobs, cut by the turns), again with that spacing
// corrected for the cut at the slice found (see spacingInTurns).
func (e *Engine) estimate(c *inferCache, ws []cand, cl classification, done completions) {
	sp := spacingBelow(&e.anchH, cl.busyBin)
	c.grid = grid{}
	c.ts = infer(ws, sp, cl.th.sep, e.matchFrac(), float64(binLow(cl.busyBin, gapSub)), &c.grid, done)
	if c.ts.Detected && busyAcross(ws) {
		sp2 := spacingInTurns(&e.anchH, cl.busyBin, float64(c.ts.Slice))
		var g2 grid
		if ts2 := infer(ws, sp2, cl.th.sep, e.matchFrac(), float64(binLow(cl.busyBin, gapSub)), &g2, done); ts2.Detected {
			c.ts, c.grid, sp = ts2, g2, sp2
		}
	}
	c.sp = sp
}

// busyAcross reports whether the guest was busy across most consecutive
// windows (nothing idle in between, work outstanding at each switch): as
// saturating, on the candidates.
func busyAcross(ws []cand) bool {
	adj := 0
	for i := 1; i < len(ws); i++ {
		if ws[i].anchored && ws[i].zeroStart == ws[i-1].zeroEnd {
			adj++
		}
	}
	return mostlyAdjacent(adj, len(ws))
}

// classification is the threshold in force for one snapshot.
type classification struct {
	found   bool
	th      threshold
	busyBin int // busy stretches in bins >= busyBin are windows
	idleBin int // idle stretches in bins >= idleBin are guest-idle windows
}

func (e *Engine) classify() classification {
	th, ok := findThreshold(&e.busyH)
	if ok {
		return classification{found: true, th: th, busyBin: th.bin, idleBin: th.bin}
	}
	b := e.fallbackBin()
	return classification{busyBin: b, idleBin: b}
}

// longJobsOnly reports whether the busy stretches at or above bin follow
// each other with, on median, fewer than defaults.longJobsComps completions in
// between: long jobs back to back. Switch-outs (and stalls) interrupt a
// run of normal completions: a turn holds many.
func (e *Engine) longJobsOnly(bin int) bool {
	var between []float64
	prev := -1
	for i := 0; i < e.cands.len(); i++ {
		c := e.cands.at(i)
		if c.idle || c.steal || binOf(c.end-c.start, gapSub) < bin {
			continue
		}
		if prev >= 0 && c.zeroStart == e.cands.at(prev).zeroEnd {
			between = append(between, float64(c.compStart-e.cands.at(prev).compEnd))
		}
		prev = i
	}
	return len(between) >= defaults.minWindows && median(between) < defaults.longJobsComps
}

// fallbackBin is where stalls and idle stretches begin when no schedule
// separates windows from the normal spacing: far beyond it (4× its 99th
// percentile), or beyond 100 ms before anything was measured.
func (e *Engine) fallbackBin() int {
	fb := int64(100 * time.Millisecond)
	if e.busyH.n >= 8 {
		fb = 4 * binLow(e.busyH.quantileBin(0.99)+1, gapSub)
	}
	return binOf(fb, gapSub)
}

// noScheduleReason says why no schedule shows when the gaps form no two
// clusters; when jobs complete only every few milliseconds it says that
// such jobs hide any switch-out shorter than them.
func (e *Engine) noScheduleReason() string {
	const base = "no-progress gaps do not separate from the normal completion spacing"
	if e.busyH.n >= 8 {
		if med := time.Duration(binLow(e.busyH.quantileBin(0.5), gapSub)); med >= defaults.longSpacing {
			return fmt.Sprintf("%s: with work waiting, completions come %v or more apart on median; jobs that long hide any shorter switch-out (jobs longer than a slice), and none was seen", base, med.Round(100*time.Microsecond))
		}
	}
	return base + ": no switch-out seen (passthrough, a VF alone on its GPU, or too little data)"
}

func (e *Engine) matchFrac() float64 {
	if e.completions == 0 {
		return 0
	}
	return float64(e.matched+e.input.Implied) / float64(e.completions+e.input.Implied)
}

// switchedOut returns the busy candidates at or above the threshold among
// those of cs from index from on, steal stretches left out.
func switchedOut(cs *candStore, from, bin int) []cand {
	keep := func(c *cand) bool {
		return !c.idle && !c.steal && binOf(c.end-c.start, gapSub) >= bin
	}
	n := 0
	for i := from; i < cs.len(); i++ {
		if keep(cs.at(i)) {
			n++
		}
	}
	if n == 0 {
		return nil
	}
	// Counted first: the list is as long as the run has switch-outs, and
	// growing it by appends would copy it over and over.
	ws := make([]cand, 0, n)
	for i := from; i < cs.len(); i++ {
		if c := cs.at(i); keep(c) {
			ws = append(ws, *c)
		}
	}
	return ws
}

func (e *Engine) horizonStart() int64 {
	if e.cfg.Horizon <= 0 {
		return e.start
	}
	return e.end - int64(e.cfg.Horizon)
}

// FinalSnapshot is Snapshot with the whole-run estimate redone from all
// the evidence, whatever its age: for a run's last report (watch's
// "final" object), so that it matches an offline analysis of the same events.
func (e *Engine) FinalSnapshot() *Snapshot {
	e.fresh = true
	defer func() { e.fresh = false }()
	return e.Snapshot()
}

// Snapshot returns the current state. The result is not modified later.
func (e *Engine) Snapshot() *Snapshot {
	s := &Snapshot{Input: e.input, Start: e.start, End: e.end}
	s.Input.ByName = e.byName()
	cl := e.classify()
	if cl.found {
		s.Threshold = time.Duration(binLow(cl.busyBin, gapSub))
	}

	// Schedule: whole run (cached) and the horizon.
	if cl.found {
		c := &e.infCache
		stale := !c.valid || c.gen != e.candGen || c.tBin != cl.busyBin || e.fresh
		var ws []cand
		if stale {
			ws = switchedOut(&e.cands, 0, cl.busyBin)
		}
		// Live, an estimate resting on many windows (over 4096: a
		// minute or more of switch-outs) is redone at most once a second
		// of trace time; below that, and when a fresh estimate is asked
		// for, at every change, so a short run stays exact.
		if stale && !e.fresh && e.cfg.Horizon > 0 && c.valid && c.tBin == cl.busyBin &&
			e.end-c.at < int64(time.Second) && len(ws) > liveExactWindows {
			stale = false
		}
		if stale {
			e.estimate(c, ws, cl, e.doneSince(e.start))
			c.valid, c.gen, c.tBin, c.at = true, e.candGen, cl.busyBin, e.end
		}
		s.Timeslice = c.ts
	} else {
		s.Timeslice = Timeslice{Mode: ModeNone, Reason: e.noScheduleReason()}
	}
	hs := e.horizonStart()
	first := sort.Search(e.cands.len(), func(i int) bool { return e.cands.at(i).end >= hs })
	if e.cfg.Horizon <= 0 {
		s.Recent = s.Timeslice
	} else if cl.found {
		// The horizon's estimate is redone only when its evidence
		// changed: a new candidate, another threshold, or a candidate
		// leaving the horizon.
		c := &e.recentCache
		if !c.valid || c.gen != e.candGen || c.tBin != cl.busyBin || c.first != first {
			e.estimate(c, switchedOut(&e.cands, first, cl.busyBin), cl, e.doneSince(hs))
			c.valid, c.gen, c.tBin, c.first, c.at = true, e.candGen, cl.busyBin, first, e.end
		}
		s.Recent = c.ts
	} else {
		s.Recent = s.Timeslice
	}
	detected := s.Timeslice.Detected || s.Recent.Detected
	if cl.found && (e.infCache.grid.slotted || e.recentCache.grid.slotted) {
		detected = true // the windows are switch-outs, the period is unknown
	}
	busyKind := Stall
	if detected {
		busyKind = SwitchedOut
	} else if cl.found && e.longJobsOnly(cl.busyBin) {
		// Two clusters of gaps, no schedule, and the long stretches
		// come back to back with hardly a completion between them: they
		// are the guest's own long jobs (bare metal, jobs of a few ms
		// beside short copies), not stretches without progress. Only
		// stretches far beyond the gaps seen (as with no clusters) are
		// stalls.
		if fb := e.fallbackBin(); fb > cl.busyBin {
			cl.busyBin = fb
		}
	}

	// Windows within the horizon, then the open one. With a fixed grid,
	// a short stretch that began (after guest idle) inside a predicted
	// off-time and lasted past the predicted turn start is a switch-out
	// too: the guest's work arrived late in the window.
	short := e.short.size
	shortIdx := 0
	for shortIdx < short && e.short.at(shortIdx).end < hs {
		shortIdx++
	}
	// Switch-outs found inside turns that overran their whole quanta
	// (see locateSplits), in time order among the others.
	var extra []span
	if busyKind == SwitchedOut {
		extra = e.infCache.grid.extra
	}
	for len(extra) > 0 && extra[0].end < hs {
		extra = extra[1:]
	}
	switched := busyKind == SwitchedOut
	// addShort adds, in end order, the short stretches that are
	// switch-outs (shortSwitchOut) and the extras ending by upTo.
	addShort := func(upTo int64) {
		for {
			nextShort := shortIdx < short && e.short.at(shortIdx).end <= upTo
			nextExtra := len(extra) > 0 && extra[0].end <= upTo
			switch {
			case nextShort && (!nextExtra || e.short.at(shortIdx).end <= extra[0].end):
				sp := e.short.at(shortIdx)
				shortIdx++
				if e.shortSwitchOut(sp.start, sp.end, cl, switched) {
					s.Windows = append(s.Windows, Window{Start: sp.start, End: sp.end, Kind: SwitchedOut, InFlight: sp.inflight})
				}
			case nextExtra:
				// work was outstanding across it (InFlight unknown: 1)
				s.Windows = append(s.Windows, Window{Start: extra[0].start, End: extra[0].end, Kind: SwitchedOut, InFlight: 1})
				extra = extra[1:]
			default:
				return
			}
		}
	}
	// Room for a window per candidate and the open one (the short
	// stretches that qualify are few): offline, the list is as long as
	// the run has switch-outs, and growing it by appends would copy it
	// over and over.
	if n := e.cands.len() - first; n > 0 {
		s.Windows = make([]Window, 0, n+1)
	}
	for i := first; i < e.cands.len(); i++ {
		c := e.cands.at(i)
		addShort(c.end)
		d := c.end - c.start
		if c.idle {
			if binOf(d, gapSub) >= cl.idleBin {
				s.Windows = append(s.Windows, Window{Start: c.start, End: c.end, Kind: GuestIdle})
			}
			continue
		}
		if c.steal || (switched && e.offSteal(c, cl, &e.infCache.grid, e.infCache.sp.lenBiased)) {
			s.Windows = append(s.Windows, Window{Start: c.start, End: c.end, Kind: Steal, InFlight: c.inflight})
		} else if binOf(d, gapSub) >= cl.busyBin {
			s.Windows = append(s.Windows, Window{Start: c.start, End: c.end, Kind: busyKind, InFlight: c.inflight})
		} else if !c.anchored && e.shortSwitchOut(c.start, c.end, cl, switched) {
			s.Windows = append(s.Windows, Window{Start: c.start, End: c.end, Kind: SwitchedOut, InFlight: c.inflight})
		}
	}
	addShort(e.end)
	if e.out > 0 && !e.tainted {
		bs := max(e.lastProg, e.busySince)
		if binOf(e.end-bs, gapSub) >= cl.busyBin {
			s.Windows = append(s.Windows, Window{Start: bs, End: e.end, Kind: busyKind, InFlight: e.out, Open: true})
		}
	} else if e.idleOpen && !e.idleTaint && binOf(e.end-e.idleSince, gapSub) >= cl.idleBin {
		s.Windows = append(s.Windows, Window{Start: e.idleSince, End: e.end, Kind: GuestIdle, Open: true})
	}

	s.Long = e.longWindows(s, busyKind)
	sp := spacingBelow(&e.anchH, cl.busyBin)
	if cl.found && e.infCache.valid && e.infCache.ts.Detected {
		sp = e.infCache.sp
	}
	s.StealTotal = time.Duration(e.stealSum)
	s.Share = e.measureShare(s, cl, sp, busyKind == SwitchedOut)

	// Totals since start. Stretches that ended inside a predicted
	// off-time are steal (offSteal), as the windows list has them.
	nb, sb := e.busyH.from(cl.busyBin)
	ni, si := e.idleH.from(cl.idleBin)
	if switched && e.infCache.grid.ok && e.infCache.grid.rigid {
		for i := 0; i < e.cands.len(); i++ {
			if c := e.cands.at(i); e.offSteal(c, cl, &e.infCache.grid, e.infCache.sp.lenBiased) {
				nb--
				sb -= float64(c.end - c.start)
				s.StealTotal += time.Duration(c.end - c.start)
			}
		}
	}
	if detected {
		s.SwitchedOutTotal = time.Duration(sb)
	} else {
		s.StallTotal = time.Duration(sb)
	}
	s.GuestIdleTotal = time.Duration(si)
	s.WindowsTotal = nb + ni
	s.Gaps = e.gapsHistogram()

	// Rings.
	s.Rings = make([]RingStats, 0, len(e.rings))
	for i := range e.rings {
		r := &e.rings[i]
		rs := RingStats{
			Name:       r.name,
			Jobs:       r.jobs,
			Busy:       time.Duration(r.busy),
			InFlight:   r.out,
			LatencyP50: r.lat.quantile(0.5),
			LatencyP99: r.lat.quantile(0.99),
		}
		if r.out > 0 {
			rs.Busy += time.Duration(e.end - r.busySince)
		}
		rs.Stalled = time.Duration(sumFrom(r.stall[:], cl.busyBin))
		for j := range r.procs {
			p := &r.procs[j]
			ps := ProcessStats{Comm: p.comm, PID: p.pid, Jobs: p.jobs, Busy: time.Duration(p.busy),
				Stalled: time.Duration(sumFrom(p.stall[:], cl.busyBin))}
			if p.out > 0 {
				ps.Busy += time.Duration(e.end - p.busySince)
			}
			rs.Processes = append(rs.Processes, ps)
		}
		slices.SortFunc(rs.Processes, func(a, b ProcessStats) int {
			if a.Jobs != b.Jobs {
				if a.Jobs > b.Jobs {
					return -1
				}
				return 1
			}
			if c := strings.Compare(a.Comm, b.Comm); c != 0 {
				return c
			}
			return int(a.PID) - int(b.PID)
		})
		s.Rings = append(s.Rings, rs)
	}
	slices.SortFunc(s.Rings, func(a, b RingStats) int { return strings.Compare(a.Name, b.Name) })
	return s
}

// longWindows returns the long no-progress stretches with work
// outstanding, the open one included: at least longMin, and three periods
// once a schedule is known; the 16 longest, in time order.
func (e *Engine) longWindows(s *Snapshot, kind WindowKind) []Window {
	lim := time.Duration(longMin)
	if ts := s.Timeslice; ts.Detected {
		lim = max(lim, 3*ts.Period)
	}
	var out []Window
	for _, w := range e.long {
		if w.Duration() >= lim {
			w.Kind = kind
			out = append(out, w)
		}
	}
	if n := len(s.Windows); n > 0 {
		if w := s.Windows[n-1]; w.Open && w.Kind != GuestIdle && w.Duration() >= lim {
			out = append(out, w)
		}
	}
	const keep = 16
	if len(out) > keep {
		slices.SortStableFunc(out, func(a, b Window) int { return cmp.Compare(b.Duration(), a.Duration()) })
		out = out[:keep]
		slices.SortFunc(out, func(a, b Window) int { return cmp.Compare(a.Start, b.Start) })
	}
	return out
}

func sumFrom(x []float64, b int) float64 {
	var s float64
	for i := max(b, 0); i < len(x); i++ {
		s += x[i]
	}
	return s
}

// gapsHistogram folds the busy-gap histogram into octaves.
func (e *Engine) gapsHistogram() Histogram {
	const n = maxExp - minExp
	h := Histogram{Bounds: make([]time.Duration, n), Counts: make([]uint64, n+1), Count: e.busyH.n}
	for k := 0; k < n; k++ {
		h.Bounds[k] = time.Duration(int64(1)<<(minExp+k) - 1)
	}
	var sum float64
	for b := 0; b < nbGap; b++ {
		sum += e.busyH.sum[b]
		if b == 0 {
			h.Counts[0] += e.busyH.count[b]
			continue
		}
		oct := (b-1)>>gapSub + 1 // bin 1.. of octave minExp → bucket 1 (≤ 2^(minExp+1)-1)
		h.Counts[min(oct, n)] += e.busyH.count[b]
	}
	h.Sum = time.Duration(sum)
	return h
}

// crossesTurnStart reports whether a no-progress stretch [b, t] that began
// with the guest idle started inside a predicted off-time and ended after
// the following turn start (by more than the prediction's margin).
func (g *grid) crossesTurnStart(b, t int64) bool {
	// the first turn start after b
	k := math.Ceil((float64(b) - g.psi) / g.period)
	ts := g.psi + k*g.period
	return float64(b) >= ts-g.off && float64(b) < ts-g.margin && float64(t) > ts+g.margin
}

// offOverlap is how much of [a, b] lies in the predicted off-time before
// the first turn start at or after a (less the margin).
func (g *grid) offOverlap(a, b float64) float64 {
	ts := g.psi + math.Ceil((a-g.margin-g.psi)/g.period)*g.period
	return max(0, min(b, ts)-max(a, ts-g.off))
}

// endsInOff reports whether a no-progress stretch ending at t ended
// inside a predicted off-time, by more than the margin and a straddling
// job j from either of its edges (a switch a little early or late).
// Nothing completes while the VF is switched out, so on a rigid grid that
// completion was delivered late: the stretch is the guest held up
// (steal), whatever of it overlaps the off-time a switch-out.
func (g *grid) endsInOff(t int64, j float64) bool {
	k := math.Ceil((float64(t) - g.psi) / g.period)
	ts := g.psi + k*g.period
	m := g.margin + j
	return float64(t) > ts-g.off+m && float64(t) < ts-m
}

// crossesSlot reports whether a no-progress stretch [b, t] that began
// with the guest idle spans a slot boundary of a variable schedule's slot
// grid (by more than the margin either side). Turns start only on slot
// boundaries: work that arrived while the VF was switched out waits for
// one, then its first job completes. In a turn a stretch lasts one
// first job and crosses a boundary only by chance (its length over the
// slot).
func (g *grid) crossesSlot(b, t int64) bool {
	if g.slot <= 0 {
		return false
	}
	k := math.Ceil((float64(b) + g.slotMargin - g.slotPsi) / g.slot)
	ts := g.slotPsi + k*g.slot
	return float64(t) > ts+g.slotMargin
}

// doneSince returns the retained completion times from t on.
func (e *Engine) doneSince(t int64) completions {
	// completion times are non-decreasing: skip to the first ≥ t
	n := e.recentDone.size
	i0 := sort.Search(n, func(i int) bool { return *e.recentDone.at(i) >= t })
	return completions{n: n - i0, at: func(i int) int64 { return *e.recentDone.at(i0 + i) }}
}

// completions is a run of completion times in non-decreasing order.
type completions struct {
	n  int
	at func(i int) int64 // i in [0, n)
}

// each visits the times in order.
func (c completions) each(f func(int64)) {
	for i := 0; i < c.n; i++ {
		f(c.at(i))
	}
}

// search returns the index of the first time ≥ t (n if none).
func (c completions) search(t int64) int {
	return sort.Search(c.n, func(i int) bool { return c.at(i) >= t })
}
