package simulate

import (
	"math/rand/v2"
	"sort"
	"time"
)

// host generates our VF's on-windows lazily and maps guest work to wall
// time: work progresses only inside on-windows (a job running at
// switch-out is preempted mid-command-buffer and resumes at switch-in).
//
// The schedule is generated a round at a time (round): our turn, then
// each neighbour's in VF order, each followed by a world switch. Outages
// are applied on top (grow): a turn under way when one starts is cut, and
// turns starting inside one are not given to our VF.
type host struct {
	sc   *Scenario
	rng  *rand.Rand
	pass bool
	// retained on-windows: on[i] = [start, end), cum[i] = active time
	// before on[i] since the schedule began.
	on    [][2]int64
	cum   []int64
	next  int64   // our next candidate turn starts here
	phase []int64 // per VF, with neighbours on/off
	total int64   // cumulative active time at the end of the last window
	// dl (Deadline mode) is the deadline clock: the nominal start of the
	// turn under way (after cost), then its nominal switch-out (after end).
	dl int64
	// owed (Fairness) is each VF's accumulated on-time minus its due.
	owed []int64
	// outages in absolute ns; pend is the next accepted candidate turn
	// (with outages only: its start ends the current turn's off-window).
	outages []outageNs
	pend    cand
	pendOK  bool
	// ts is the trace's start; maxVFs the most VFs (ours included) that
	// held the GPU in one round starting inside the trace.
	ts     int64
	maxVFs int
	// turn receives each of our turns [s,e) and the start of the next
	// one (the off-window is [e,next)) as it is generated.
	turn func(s, e, next int64, self bool)
}

// cand is one of our turns as the schedule puts it, before outages.
type cand struct {
	s, e, next int64
	self       bool
}

func newHost(sc *Scenario, rng *rand.Rand, t0 int64, turn func(s, e, next int64, self bool)) *host {
	h := &host{sc: sc, rng: rng, pass: sc.Policy == None, turn: turn}
	if !h.pass {
		// start somewhere inside a period
		h.next = t0 - int64(rng.Float64()*float64(sc.NominalPeriod()))
		h.dl = h.next
		if sc.Policy == Skip || sc.Policy == Liquid {
			onoff := false
			for k := 1; k < sc.VFs; k++ {
				onoff = onoff || sc.neighbour(k).On > 0
			}
			if onoff {
				h.phase = make([]int64, sc.VFs)
				for k := range h.phase {
					n := sc.neighbour(max(k, 1))
					h.phase[k] = int64(rng.Float64() * float64(n.On+n.Off))
				}
			}
		}
		if sc.Policy == Fairness {
			h.owed = make([]int64, sc.VFs)
		}
	}
	return h
}

// outageNs is an outage in absolute trace-clock ns.
type outageNs struct {
	a, b int64
	kind string
}

// setOutages converts the scenario's outages to absolute times (trace
// start ts).
func (h *host) setOutages(ts int64) {
	h.ts = ts
	for _, o := range h.sc.Outages {
		h.outages = append(h.outages, outageNs{ts + int64(o.At), ts + int64(o.At+o.Len), o.Kind})
	}
	sort.Slice(h.outages, func(i, j int) bool { return h.outages[i].a < h.outages[j].a })
}

func (h *host) jitter(d time.Duration) int64 {
	if h.sc.Jitter <= 0 {
		return int64(d)
	}
	return int64(d) + int64((2*h.rng.Float64()-1)*float64(h.sc.Jitter))
}

// minOn is the shortest on-time a jittered turn is given.
const minOn = int64(50 * time.Microsecond)

// end returns when a turn that started at s and is due q of on-time is
// switched out, per the jitter mode.
func (h *host) end(s int64, q time.Duration) int64 {
	if h.sc.JitterMode == Deadline {
		h.dl += int64(q)
		return max(h.jitter(0)+h.dl, s+minOn)
	}
	return max(s+h.jitter(q), s+minOn)
}

// cost returns one world switch's cost (and advances the deadline clock by
// the nominal cost).
func (h *host) cost() int64 {
	sc := h.sc
	h.dl += int64(sc.SwitchCost)
	if sc.SwitchStep <= 0 {
		return int64(sc.SwitchCost)
	}
	raw := float64(sc.SwitchCost) * (0.5 + h.rng.Float64())
	st := float64(sc.SwitchStep)
	n := int64(raw / st)
	if float64(n)*st < raw {
		n++
	}
	return max(n, 1) * int64(sc.SwitchStep)
}

// budget is what VF k is due this turn: its slice, less (Fairness) what
// it overran before, floored at half a slice.
func (h *host) budget(k int) time.Duration {
	q := h.sc.slice(k)
	if h.owed == nil {
		return q
	}
	return max(q-time.Duration(h.owed[k]), q/2)
}

// ran books VF k's turn [s, e) against its due (Fairness).
func (h *host) ran(k int, s, e int64) {
	if h.owed != nil {
		h.owed[k] += e - s - int64(h.sc.slice(k))
	}
}

// round generates our next candidate turn and the neighbours' turns after
// it.
func (h *host) round() cand {
	sc := h.sc
	s := h.next
	var e int64
	var busy []bool
	if sc.Policy == Liquid {
		// at the end of each quantum, does another VF have work? If not,
		// we keep the GPU for another whole quantum.
		q := sc.slice(0)
		m := int64(1)
		maxM := min(max(int64(MaxAlone/q), 1), maxQuanta)
		for {
			busy = h.busyAt(s + m*int64(q))
			if anyTrue(busy) || m >= maxM {
				break
			}
			m++
		}
		e = h.end(s, time.Duration(m)*q)
	} else {
		e = h.end(s, h.budget(0))
		h.ran(0, s, e)
	}
	c0 := h.cost()
	t := e + c0
	any := false
	ran := 1
	for k := 1; k < sc.VFs; k++ {
		switch sc.Policy {
		case Skip:
			if !h.neighbourBusy(k, t) {
				continue
			}
		case Liquid:
			if !busy[k] {
				continue
			}
		}
		any = true
		ran++
		var ek int64
		if sc.Policy == Liquid && h.phase != nil {
			// the neighbour's work runs out: it is switched out early,
			// after at least EarlySwitch on its empty context
			if idle := h.idleFrom(k, t); idle < t+int64(sc.slice(k)) {
				ek = max(idle, t+int64(EarlySwitch))
				h.dl = ek
			}
		}
		if ek == 0 {
			ek = h.end(t, h.budget(k))
			h.ran(k, t, ek)
		}
		t = ek + h.cost()
	}
	if !any {
		switch sc.Policy {
		case Liquid:
			// nobody else ran (the quantum cap): we go on at once
			t, h.dl = e, e
		default:
			// every neighbour idle: switch straight back (no second
			// switch)
			t = e + c0
		}
	}
	h.next = t
	if s >= h.ts {
		h.maxVFs = max(h.maxVFs, ran)
	}
	return cand{s: s, e: e, next: t, self: !any}
}

func anyTrue(b []bool) bool {
	for _, x := range b[1:] {
		if x {
			return true
		}
	}
	return false
}

// busyAt reports which neighbours have work at t (index 0 unused).
func (h *host) busyAt(t int64) []bool {
	b := make([]bool, h.sc.VFs)
	for k := 1; k < h.sc.VFs; k++ {
		b[k] = h.neighbourBusy(k, t)
	}
	return b
}

// inOutage returns the end of the outage containing t, or -1.
func (h *host) inOutage(t int64) int64 {
	for _, o := range h.outages {
		if t >= o.a && t < o.b {
			return o.b
		}
	}
	return -1
}

// outageIn returns the start of an outage beginning inside (s, e), or -1.
func (h *host) outageIn(s, e int64) int64 {
	for _, o := range h.outages {
		if o.a > s && o.a < e {
			return o.a
		}
	}
	return -1
}

// accepted returns the next candidate turn our VF is given and whether
// one was dropped: a turn that would start inside an outage is not given,
// and the schedule resumes with our turn at the outage's end.
func (h *host) accepted() (cand, bool) {
	c := h.round()
	dropped := false
	for b := h.inOutage(c.s); b >= 0; b = h.inOutage(c.s) {
		h.next, h.dl = b, b
		c = h.round()
		dropped = true
	}
	return c, dropped
}

// grow appends our next turn.
func (h *host) grow() {
	var c cand
	if h.pendOK {
		c = h.pend
	} else if len(h.outages) > 0 {
		c, _ = h.accepted()
	} else {
		c = h.round()
	}
	e, next, self := c.e, c.next, c.self
	if len(h.outages) > 0 {
		if a := h.outageIn(c.s, c.e); a >= 0 {
			e, self = a, false
		}
		nx, dropped := h.accepted()
		if dropped || e != c.e {
			self = false
		}
		h.pend, h.pendOK = nx, true
		next = nx.s
	}
	h.on = append(h.on, [2]int64{c.s, e})
	h.cum = append(h.cum, h.total)
	h.total += e - c.s
	if h.turn != nil {
		h.turn(c.s, e, next, self)
	}
}

// prune drops windows that end before t (no query will come before t).
func (h *host) prune(t int64) {
	if len(h.on) < 4096 {
		return
	}
	i := sort.Search(len(h.on), func(i int) bool { return h.on[i][1] > t })
	if i < len(h.on)/2 {
		return
	}
	n := copy(h.on, h.on[i:])
	h.on = h.on[:n]
	n = copy(h.cum, h.cum[i:])
	h.cum = h.cum[:n]
}

// ensure generates windows until one ends after t.
func (h *host) ensure(t int64) {
	for len(h.on) == 0 || h.on[len(h.on)-1][1] <= t {
		h.grow()
	}
}

// finish returns when work of x ns started (made ready) at wall time s
// completes.
func (h *host) finish(s, x int64) int64 {
	if h.pass {
		return s + x
	}
	h.ensure(s)
	i := sort.Search(len(h.on), func(i int) bool { return h.on[i][1] > s })
	if s < h.on[i][0] {
		s = h.on[i][0]
	}
	target := h.cum[i] + (s - h.on[i][0]) + x
	for {
		w := h.on[i]
		if h.cum[i]+(w[1]-w[0]) >= target {
			return w[0] + (target - h.cum[i])
		}
		i++
		if i == len(h.on) {
			h.grow()
		}
	}
}

// neighbourBusy reports whether neighbour k has work when its turn comes at t.
func (h *host) neighbourBusy(k int, t int64) bool {
	n := h.sc.neighbour(k)
	if h.phase == nil || n.On == 0 {
		return h.rng.Float64() < n.Load
	}
	cyc := int64(n.On + n.Off)
	ph := (t + h.phase[k]) % cyc
	if ph < 0 {
		ph += cyc
	}
	return ph < int64(n.On)
}

// idleFrom returns when on/off neighbour k, busy at t, runs out of work.
func (h *host) idleFrom(k int, t int64) int64 {
	n := h.sc.neighbour(k)
	if n.On == 0 {
		return 1<<63 - 1
	}
	cyc := int64(n.On + n.Off)
	ph := (t + h.phase[k]) % cyc
	if ph < 0 {
		ph += cyc
	}
	if ph >= int64(n.On) {
		return t
	}
	return t + int64(n.On) - ph
}
